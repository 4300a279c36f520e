import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createSimulatedHost } from '../../src/host/index.ts';
import { createDevice } from '../../src/xenbus/index.ts';

const bootstrap = new URL('../evtchn/support/typescript-worker.mjs', import.meta.url);
const entry = new URL('./support/throughput-worker.ts', import.meta.url).href;

function message<T>(worker: Worker, key: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: Record<string, unknown>) => {
      if (!(key in m)) return;
      worker.off('message', onMessage);
      resolve(m as T);
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });
}

describe('a block device between two worker threads', () => {
  it('carries 64 KiB requests from a guest to a driver domain, data intact (prints MB/s)', async () => {
    const host = await createSimulatedHost({
      hypervisor: { maxDomains: 4, grantsPerDomain: 1400 },
    });
    try {
      const MB = 1024 * 1024;
      const common = {
        devid: 51712,
        bytes: 32 * MB,
        requestBytes: 64 * 1024,
        depth: 32,
        passes: 4,
      };
      const front = await host.spawnGuestWorker(bootstrap, {
        domid: 1,
        workerData: { entry, role: 'frontend', peer: 2, ...common },
      });
      const back = await host.spawnGuestWorker(bootstrap, {
        domid: 2,
        workerData: { entry, role: 'backend', peer: 1, ...common },
      });
      await createDevice(host.dom0Client, {
        type: 'vbd',
        frontendDomid: 1,
        backendDomid: 2,
        devid: 51712,
      });
      const results = message<{ writeMBs: number; readMBs: number; wrote: string; read: string }>(
        front.worker,
        'writeMBs',
      );
      const closed = message<{ closed: string; stats: { errors: number } }>(back.worker, 'closed');
      back.worker.postMessage('go');
      front.worker.postMessage('go');
      const { writeMBs, readMBs, wrote, read } = await results;
      expect(read).toBe(wrote);
      const end = await closed;
      expect(end).toMatchObject({ closed: 'ECONNRESET', stats: { errors: 0 } });
      console.log(
        `block device on the simulated host, blkfront (worker, domain 1) -> blkback (worker, ` +
          `driver domain 2), 64 KiB requests, 32 in flight over 2 two-page rings, 128 MiB each way after a warm-up pass: ` +
          `write ${writeMBs.toFixed(0)} MB/s, read ${readMBs.toFixed(0)} MB/s`,
      );
    } finally {
      await host.close();
    }
  }, 120_000);
});
