import { once } from 'node:events';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { BlkifProtocol, MemoryDisk } from '../../src/block/index.ts';
import { XenbusState } from '../../src/xenbus/index.ts';
import { BLOCK_GRANTS, type BlockHost, blockHost, connectPair } from './support/block-host.ts';

let env: BlockHost | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

const DISK_BYTES = 4 * 1024 * 1024;

/** Bytes of a write: a cheap generator seeded per operation, so every write is distinct. */
function pattern(seed: number, length: number): Uint8Array {
  const data = new Uint8Array(length);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  return data;
}

type Op =
  | { kind: 'read' | 'write' | 'discard'; at: number; bytes: number; seed: number }
  | { kind: 'flush' };

/**
 * A batch of operations run at once, on disjoint ranges (the order of overlapping writes in
 * flight together is the backend's to choose, as on any disk), placed from a random start.
 */
function batch(unit: number): fc.Arbitrary<Op[]> {
  const maxUnits = Math.floor((320 * 1024) / unit);
  return fc
    .record({
      start: fc.nat({ max: DISK_BYTES / unit - 1 }),
      ops: fc.array(
        fc.record({
          kind: fc.constantFrom('read', 'read', 'write', 'write', 'discard', 'flush'),
          gap: fc.nat({ max: 16 }),
          units: fc.integer({ min: 1, max: maxUnits }),
          seed: fc.nat(),
        }),
        { minLength: 1, maxLength: 8 },
      ),
    })
    .map(({ start, ops }) => {
      const placed: Op[] = [];
      let at = start * unit;
      for (const op of ops) {
        if (op.kind === 'flush') {
          placed.push({ kind: 'flush' });
          continue;
        }
        at += op.gap * unit;
        const bytes = op.units * unit;
        if (at + bytes > DISK_BYTES) break;
        placed.push({ kind: op.kind as 'read', at, bytes, seed: op.seed });
        at += bytes;
      }
      return placed;
    });
}

const setups = fc.record({
  protocol: fc.constantFrom(BlkifProtocol.x86_64, BlkifProtocol.x86_32),
  backendPersistent: fc.boolean(),
  frontendPersistent: fc.boolean(),
  queues: fc.integer({ min: 1, max: 3 }),
  ringOrder: fc.integer({ min: 0, max: 2 }),
  maxIndirectSegments: fc.constantFrom(0, 32, 256),
  sectorSize: fc.constantFrom(512, 4096),
  maxGrants: fc.constantFrom(24, 512),
  maxPersistentGrants: fc.constantFrom(16, 1056),
});

describe('blkfront and blkback on the simulated host', () => {
  it('agree with an in-memory model over random mixes of concurrent requests', async () => {
    await fc.assert(
      fc.asyncProperty(
        setups.chain((setup) =>
          fc.record({
            setup: fc.constant(setup),
            batches: fc.array(batch(setup.sectorSize), { minLength: 1, maxLength: 6 }),
          }),
        ),
        async ({ setup, batches }) => {
          env = await blockHost();
          const disk = new MemoryDisk(DISK_BYTES, { sectorSize: setup.sectorSize });
          disk.bytes.set(pattern(1, DISK_BYTES));
          const model = disk.bytes.slice();
          const { back, front } = await connectPair(
            env,
            disk,
            {
              persistent: setup.backendPersistent,
              maxIndirectSegments: setup.maxIndirectSegments,
              maxPersistentGrants: setup.maxPersistentGrants,
            },
            {
              protocol: setup.protocol,
              persistent: setup.frontendPersistent,
              queues: setup.queues,
              maxRingPageOrder: setup.ringOrder,
              maxGrants: setup.maxGrants,
            },
          );
          expect(front.info).toMatchObject({
            protocol: setup.protocol,
            queues: setup.queues,
            ringPages: 2 ** setup.ringOrder,
            sectorSize: setup.sectorSize,
            sectors: DISK_BYTES / 512,
          });
          expect(back.connection).toMatchObject({
            abi: { protocol: setup.protocol },
            queues: setup.queues,
            persistent: setup.backendPersistent && setup.frontendPersistent,
          });
          for (const ops of batches) {
            await Promise.all(
              ops.map(async (op) => {
                if (op.kind === 'flush') return front.flush();
                const sector = op.at / 512;
                if (op.kind === 'write') {
                  const data = pattern(op.seed, op.bytes);
                  model.set(data, op.at);
                  return front.write(sector, data);
                }
                if (op.kind === 'discard') {
                  model.fill(0, op.at, op.at + op.bytes);
                  return front.discard(sector, op.bytes / 512);
                }
                const expected = model.slice(op.at, op.at + op.bytes);
                if (op.seed % 2 === 0) {
                  const got = await front.read(sector, op.bytes);
                  expect(Buffer.compare(got, expected)).toBe(0);
                  return;
                }
                // Into the middle of a caller's buffer: the bytes around it stay as they were.
                const buffer = new Uint8Array(op.bytes + 1024).fill(0xa5);
                await front.readInto(sector, buffer.subarray(512, 512 + op.bytes));
                expect(Buffer.compare(buffer.subarray(512, 512 + op.bytes), expected)).toBe(0);
                expect(buffer.subarray(0, 512).every((b) => b === 0xa5)).toBe(true);
                expect(buffer.subarray(512 + op.bytes).every((b) => b === 0xa5)).toBe(true);
              }),
            );
          }
          expect(Buffer.compare(disk.bytes, model)).toBe(0);
          expect(back.stats.errors + back.stats.notSupported).toBe(0);
          await front.close();
          await back.closed;
          expect(back.mappedGrants).toBe(0);
          // Every page the frontend granted has ended (none could while mapped): all of domain
          // 1's refs but its xenstore page's are free again.
          expect(() =>
            env?.host.hypervisor.grants.grantRange(1, 0, BLOCK_GRANTS - 9),
          ).not.toThrow();
          await env.close();
          env = undefined;
        },
      ),
      { numRuns: 25 },
    );
  }, 120_000);

  it('refuses bad ranges before they reach the backend, and reports the disk as offered', async () => {
    env = await blockHost();
    const disk = new MemoryDisk(64 * 1024, { sectorSize: 4096, readOnly: true, discard: false });
    const { back, front } = await connectPair(env, disk);
    expect(front.info).toMatchObject({
      readOnly: true,
      discard: false,
      flush: 'flush',
      sectorSize: 4096,
    });
    await expect(front.read(120, 8192)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(front.read(4, 4096)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(front.read(0, 512)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(front.write(0, new Uint8Array(4096))).rejects.toMatchObject({ code: 'EROFS' });
    await expect(front.discard(0, 8)).rejects.toMatchObject({ code: 'EOPNOTSUPP' });
    expect(back.stats.okay + back.stats.errors).toBe(0);
    await front.close();
  });

  it('takes requests published together at one wake-up and answers them with one notification', async () => {
    env = await blockHost();
    const { back, front } = await connectPair(env, new MemoryDisk(1024 * 1024), {}, { queues: 1 });
    const writes = Array.from({ length: 16 }, (_, i) =>
      front.write(i * 8, new Uint8Array(4096).fill(i + 1)),
    );
    await Promise.all(writes);
    expect(back.stats).toMatchObject({ okay: 16, writes: 16, wakeups: 1, notifications: 1 });
    expect(await front.read(15 * 8, 4096)).toEqual(new Uint8Array(4096).fill(16));
    expect(back.stats).toMatchObject({ okay: 17, wakeups: 2, notifications: 2 });
    await front.close();
  });

  it('closes both ends when the frontend closes, the backend unmapping all it mapped', async () => {
    env = await blockHost();
    const { back, front } = await connectPair(env, new MemoryDisk(1024 * 1024));
    await front.write(0, new Uint8Array(256 * 1024).fill(1));
    expect(back.mappedGrants).toBeGreaterThan(0);
    const backClosed = once(back, 'closed');
    const frontClosed = once(front, 'closed');
    await front.close();
    expect((await frontClosed)[0]).toBeUndefined();
    expect((await backClosed)[0]).toMatchObject({ code: 'ECONNRESET' });
    expect(back.mappedGrants).toBe(0);
    expect(await env.host.dom0Client.readString(`${back.device.path}/state`)).toBe(
      String(XenbusState.Closed),
    );
    await expect(front.read(0, 512)).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('fails the frontend’s requests in flight when the backend closes', async () => {
    env = await blockHost();
    const { back, front } = await connectPair(env, new MemoryDisk(1024 * 1024));
    const closed = once(front, 'closed');
    await back.close();
    expect((await closed)[0]).toMatchObject({ code: 'ECONNRESET' });
    await expect(front.write(0, new Uint8Array(512))).rejects.toMatchObject({ code: 'ECONNRESET' });
  });
});
