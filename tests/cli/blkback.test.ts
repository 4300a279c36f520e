import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openBlkfront, parseVirtualDevice, virtualDeviceName } from '../../src/block/index.ts';
import { type BlkbackHost, runBlkback } from '../../src/cli/commands/blkback.ts';
import { createSimulatedHost, type SimulatedHost } from '../../src/host/index.ts';
import { simulatedPlatform } from '../../src/xenbus/index.ts';
import { Capture, xenwire } from './run-cli.ts';

let dir: string;
let host: SimulatedHost | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xenwire-blkback-'));
});
afterEach(async () => {
  await host?.close();
  host = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** Dom0 of a simulated host, as the command would find it on real Xen. */
function dom0(sim: SimulatedHost) {
  return async (): Promise<BlkbackHost> => {
    const platform = simulatedPlatform(sim.hypervisor, 0);
    return { client: sim.dom0Client, platform, close: async () => platform.close() };
  };
}

describe('xenwire blkback', () => {
  it('wants a domain and an image, and a device it can name', async () => {
    expect(await xenwire(['blkback', '--image', 'x.img'])).toMatchObject({
      status: 2,
      stderr: expect.stringContaining('--domain and --image are required'),
    });
    expect(
      await xenwire(['blkback', '--domain', '1', '--image', 'x.img', '--devid', 'sda']),
    ).toMatchObject({
      status: 2,
      stderr: expect.stringContaining('neither xvdX nor a number'),
    });
    expect(await xenwire(['blkback', '--domain', 'one', '--image', 'x.img'])).toMatchObject({
      status: 2,
    });
    const missing = await xenwire(['blkback', '--domain', '1', '--image', join(dir, 'none.img')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('ENOENT');
    expect((await xenwire(['blkback', '--help'])).stdout).toContain('--domain N --image FILE');
  });

  it('names devices as Xen’s vbd-interface does', () => {
    expect(parseVirtualDevice('xvda')).toBe(51712);
    expect(parseVirtualDevice('xvdb')).toBe(51728);
    expect(parseVirtualDevice('xvdp3')).toBe(51712 + 15 * 16 + 3);
    expect(parseVirtualDevice('xvdq')).toBe((1 << 28) | (16 << 8));
    expect(parseVirtualDevice('xvdaa')).toBe((1 << 28) | (26 << 8));
    expect(parseVirtualDevice('51760')).toBe(51760);
    for (const name of ['xvda', 'xvdb', 'xvdp15', 'xvdq', 'xvdaa', 'xvdzz7']) {
      expect(virtualDeviceName(parseVirtualDevice(name))).toBe(name);
    }
    expect(virtualDeviceName(768)).toBeUndefined();
  });

  it('serves an image to a guest’s blkfront, then reports and removes the device', async () => {
    host = await createSimulatedHost({
      guests: 1,
      hypervisor: { maxDomains: 4, grantsPerDomain: 1024 },
    });
    const image = join(dir, 'disk.img');
    await writeFile(image, new Uint8Array(2 * 1024 * 1024).fill(7));
    const stdout = new Capture();
    const stderr = new Capture();
    const running = runBlkback(
      ['--domain', '1', '--image', image, '--devid', 'xvdb'],
      { stdout, stderr, env: process.env },
      dom0(host),
    );
    await stdout.waitFor(/serving/);
    expect(stdout.text).toContain(
      'to domain 1 as xvdb: /local/domain/0/backend/vbd-xenwire/1/51728',
    );
    const guest = simulatedPlatform(host.hypervisor, 1);
    const front = await openBlkfront({
      client: host.guest(1).client,
      platform: guest,
      devid: 51728,
    });
    expect(front.info.sectors).toBe(4096);
    await front.write(2048, new Uint8Array(8192).fill(9));
    expect(await front.read(2047, 1024)).toEqual(new Uint8Array(1024).fill(7, 0, 512).fill(9, 512));
    await stdout.waitFor(/connected: protocol x86_64-abi, 1 queue, 1-page ring, persistent grants/);
    await front.close();
    expect(await running).toBe(0);
    expect(stdout.text).toMatch(/closed \(.*\): 1 reads \(1024 bytes\), 1 writes \(8192 bytes\)/);
    expect(stdout.text).toMatch(/; 2 wake-ups, 2 notifications sent\n/);
    expect(await host.dom0Client.exists('/local/domain/0/backend/vbd-xenwire/1/51728')).toBe(false);
    expect(await host.dom0Client.exists('/local/domain/1/device/vbd/51728')).toBe(false);
    const bytes = await readFile(image);
    expect(bytes.subarray(2048 * 512, 2048 * 512 + 8192).every((b) => b === 9)).toBe(true);
    guest.close();
  });

  it('stops when interrupted before the guest connects, removing the device', async () => {
    host = await createSimulatedHost({ guests: 1 });
    const image = join(dir, 'disk.img');
    await writeFile(image, new Uint8Array(4096));
    const stdout = new Capture();
    const controller = new AbortController();
    const running = runBlkback(
      ['--domain', '1', '--image', image, '--read-only'],
      { stdout, stderr: new Capture(), env: process.env, signal: controller.signal },
      dom0(host),
    );
    await stdout.waitFor(/serving .*read-only/);
    expect(
      await host.dom0Client.readString('/local/domain/0/backend/vbd-xenwire/1/51728/mode'),
    ).toBe('r');
    controller.abort();
    expect(await running).toBe(130);
    expect(await host.dom0Client.exists('/local/domain/1/device/vbd/51728')).toBe(false);
  });
});
