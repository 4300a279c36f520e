import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, statfs, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileDisk, MemoryDisk, openBlkback, openBlkfront } from '../../src/block/index.ts';
import { createSimulatedHost } from '../../src/host/index.ts';
import { createDevice, simulatedPlatform, XenbusState } from '../../src/xenbus/index.ts';
import { nativeAddonReady } from '../support/requirements.ts';
import { type BlockHost, blockHost, connectPair } from './support/block-host.ts';

const mappable = nativeAddonReady();

let env: BlockHost | undefined;
let dir: string | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('a guest that dies', () => {
  it('mid-write: the backend notices, unmaps every grant, unbinds and ends Closed', async () => {
    env = await blockHost();
    const { back, front } = await connectPair(env, new MemoryDisk(8 * 1024 * 1024));
    const ports = back.connection?.device.queues.map((q) => q.port) ?? [];
    const closed = once(back, 'closed');
    const writes = Array.from({ length: 32 }, (_, i) =>
      front.write(i * 256, new Uint8Array(128 * 1024).fill(i)).catch((error: Error) => error),
    );
    await writes[0];
    expect(back.mappedGrants).toBeGreaterThan(0);
    await env.host.destroyDomain(1);
    const [reason] = await closed;
    expect(['ESRCH', 'ECONNRESET']).toContain(reason?.code);
    expect(back.mappedGrants).toBe(0);
    expect(back.inflight).toBe(0);
    for (const port of ports) expect(env.host.hypervisor.status(0, port).state).toBe('closed');
    expect(await env.host.dom0Client.readString(`${back.device.path}/state`)).toBe(
      String(XenbusState.Closed),
    );
  });
});

describe('a driver domain that dies', () => {
  it('fails the frontend’s operations with ESRCH instead of leaving them hanging', async () => {
    const host = await createSimulatedHost({
      guests: 2,
      hypervisor: { maxDomains: 4, grantsPerDomain: 1024 },
    });
    try {
      const id = { type: 'vbd', frontendDomid: 1, backendDomid: 2, devid: 768 };
      await createDevice(host.dom0Client, id);
      const guest = simulatedPlatform(host.hypervisor, 1);
      const driver = simulatedPlatform(host.hypervisor, 2);
      const [, front] = await Promise.all([
        openBlkback({
          client: host.guest(2).client,
          platform: driver,
          frontendDomid: 1,
          devid: 768,
          disk: new MemoryDisk(1024 * 1024),
        }),
        openBlkfront({ client: host.guest(1).client, platform: guest, devid: 768 }),
      ]);
      await front.write(0, new Uint8Array(4096).fill(1));
      const closed = once(front, 'closed');
      await host.destroyDomain(2);
      expect(['ESRCH', 'ECONNRESET']).toContain((await closed)[0]?.code);
      await expect(front.read(0, 4096)).rejects.toMatchObject({ name: 'BlockError' });
      guest.close();
    } finally {
      await host.close();
    }
  });
});

describe('a raw image file', () => {
  it.each([
    { synchronous: false, mapped: false },
    { synchronous: true, mapped: false },
    ...(mappable ? [{ synchronous: true, mapped: true }] : []),
  ])(
    'is served sector for sector, flushed, discarded to zeros, and refused when read-only ($synchronous, $mapped)',
    async ({ synchronous, mapped }) => {
      dir = await mkdtemp(join(tmpdir(), 'xenwire-block-'));
      const image = join(dir, 'disk.img');
      const original = new Uint8Array(1024 * 1024).map((_, i) => i % 251);
      await writeFile(image, original);
      env = await blockHost();
      const disk = await FileDisk.open(image, { synchronous, mapped });
      expect(disk).toMatchObject({ synchronous, mapped });
      const { back, front } = await connectPair(env, disk);
      expect(front.info).toMatchObject({ sectors: 2048, flush: 'flush', discard: true });
      const data = new Uint8Array(300 * 1024).fill(0xab);
      await front.write(100, data);
      await front.flush();
      await front.discard(0, 16);
      const expected = original.slice();
      expected.set(data, 100 * 512);
      expected.fill(0, 0, 16 * 512);
      expect(Buffer.compare(await readFile(image), expected)).toBe(0);
      expect(await front.read(90, 20 * 512)).toEqual(expected.subarray(90 * 512, 110 * 512));
      expect(back.stats.flushes).toBe(1);
      await front.close();
      await disk.close();
      await env.close();

      env = await blockHost();
      const readOnly = await FileDisk.open(image, { readOnly: true, synchronous, mapped });
      const pair = await connectPair(env, readOnly);
      expect(pair.front.info).toMatchObject({ readOnly: true });
      await expect(pair.front.write(0, new Uint8Array(512))).rejects.toMatchObject({
        code: 'EROFS',
      });
      expect(await pair.front.read(100, 512)).toEqual(data.subarray(0, 512));
      await pair.front.close();
      await readOnly.close();
    },
  );

  it('is read and written on the calling thread, through a mapping, by default only on a file system in memory', async () => {
    dir = await mkdtemp(join(tmpdir(), 'xenwire-block-'));
    const image = join(dir, 'disk.img');
    await writeFile(image, new Uint8Array(4096));
    const types = new Map([[image, (await statfs(dir)).type]]);
    const onShm = existsSync('/dev/shm')
      ? join('/dev/shm', `xenwire-block-${process.pid}.img`)
      : undefined;
    if (onShm) {
      await writeFile(onShm, new Uint8Array(4096));
      types.set(onShm, (await statfs('/dev/shm')).type);
    }
    try {
      for (const [path, type] of types) {
        const disk = await FileDisk.open(path);
        // tmpfs and ramfs: nothing to wait for.
        const inMemory = type === 0x01021994 || type === 0x858458f6;
        expect(disk).toMatchObject({ synchronous: inMemory, mapped: inMemory && mappable });
        await disk.write(1, [new Uint8Array(512).fill(7)]);
        const back = new Uint8Array(1024);
        await disk.read(0, [back.subarray(0, 512), back.subarray(512)]);
        expect(back.subarray(512).every((byte) => byte === 7)).toBe(true);
        await disk.close();
      }
    } finally {
      if (onShm) await rm(onShm, { force: true });
    }
  });

  it.skipIf(!mappable)(
    'answers a request past the end of an image shrunk under its mapping with an error',
    async () => {
      dir = await mkdtemp(join(tmpdir(), 'xenwire-block-'));
      const image = join(dir, 'disk.img');
      await writeFile(image, new Uint8Array(1024 * 1024).fill(3));
      env = await blockHost();
      const disk = await FileDisk.open(image, { mapped: true });
      const { back, front } = await connectPair(env, disk);
      await truncate(image, 4096);
      await expect(front.read(1024, 4096)).rejects.toMatchObject({ code: 'EIO' });
      expect(await front.read(0, 4096)).toEqual(new Uint8Array(4096).fill(3));
      expect(back.stats.errors).toBe(1);
      await front.close();
      await disk.close();
    },
  );

  it('must be whole sectors', async () => {
    dir = await mkdtemp(join(tmpdir(), 'xenwire-block-'));
    await writeFile(join(dir, 'odd.img'), new Uint8Array(1000));
    await expect(FileDisk.open(join(dir, 'odd.img'))).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(FileDisk.open(dir)).rejects.toMatchObject({ code: 'EISDIR' });
    await expect(FileDisk.open(join(dir, 'missing.img'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
