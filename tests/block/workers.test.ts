import { describe, expect, it } from 'vitest';
import { runWorkerPair } from './support/worker-pair.ts';

describe('a block device between two worker threads', () => {
  it('carries 64 KiB requests from a guest to a driver domain, data intact (prints MB/s)', async () => {
    const MB = 1024 * 1024;
    const outcome = await runWorkerPair({
      bytes: 32 * MB,
      requestBytes: 64 * 1024,
      depth: 32,
      passes: 4,
    });
    expect(outcome.read).toBe(outcome.wrote);
    expect(outcome).toMatchObject({ closed: 'ECONNRESET', errors: 0 });
    console.log(
      `block device on the simulated host, blkfront (worker, domain 1) -> blkback (worker, ` +
        `driver domain 2), 64 KiB requests, 32 in flight over 2 two-page rings, 128 MiB each way after a warm-up pass: ` +
        `write ${outcome.writeMBs.toFixed(0)} MB/s, read ${outcome.readMBs.toFixed(0)} MB/s`,
    );
  }, 120_000);
});
