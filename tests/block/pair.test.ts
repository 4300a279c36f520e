import { afterEach, describe, expect, it } from 'vitest';
import { MemoryDisk } from '../../src/block/index.ts';
import { type BlockHost, blockHost, connectPair } from './support/block-host.ts';

let env: BlockHost;
afterEach(async () => {
  await env?.close();
});

describe('blkfront and blkback on the simulated host', () => {
  it('reads back what it wrote', async () => {
    env = await blockHost();
    const disk = new MemoryDisk(1024 * 1024);
    const { back, front } = await connectPair(env, disk);
    const data = new Uint8Array(200 * 1024).map((_, i) => (i * 7) & 0xff);
    await front.write(8, data);
    expect(disk.bytes.subarray(4096, 4096 + data.length)).toEqual(data);
    expect(await front.read(8, data.length)).toEqual(data);
    await front.flush();
    await front.discard(8, 8);
    expect(disk.bytes.subarray(4096, 8192).every((b) => b === 0)).toBe(true);
    console.log(front.info, back.stats, back.connection?.persistent);
    await front.close();
    await back.closed;
    expect(back.mappedGrants).toBe(0);
  });
});
