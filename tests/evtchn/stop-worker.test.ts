import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { SimulatedHypervisor } from '../../src/evtchn/index.ts';

const bootstrap = new URL('./support/typescript-worker.mjs', import.meta.url);
const entry = new URL('./support/hammering-worker.ts', import.meta.url).href;
const STOPS = 20;

/** Whether the host's lock word (word 0 of its buffer) is free; this thread holds nothing. */
const lockIsFree = (hv: SimulatedHypervisor): boolean =>
  Atomics.load(new Int32Array(hv.buffer), 0) === 0;

describe('SimulatedHypervisor.stopWorker', () => {
  it('never ends a thread in the middle of an operation, which would leave the host locked', async () => {
    const hv = SimulatedHypervisor.create();
    const a = hv.createDomain();
    const b = hv.createDomain();
    const port = hv.allocUnbound(a, b);
    // Closed only at the end: closing takes the lock, which must not block this thread on failure.
    const channel = hv.openEventChannel(b);
    const peerPort = channel.bindInterdomain(a, port);
    for (let stop = 0; stop < STOPS; stop++) {
      const worker = new Worker(bootstrap, {
        workerData: { entry, buffer: hv.buffer, domid: a, port },
      });
      await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      // Let it run a little: most of its time is spent holding the lock.
      await sleep(stop % 5);
      expect(await hv.stopWorker(worker)).toBe(1);
      // Checked without taking the lock: taking a lock left held would block this thread for good.
      expect(lockIsFree(hv)).toBe(true);
      // And the host goes on: the lock can be taken, and the worker's sends arrived.
      expect(channel.takePending()).toEqual([peerPort]);
      channel.unmask(peerPort);
    }
    channel.close();
  }, 120_000);

  it('waits for a thread that stopped on its own', async () => {
    const hv = SimulatedHypervisor.create();
    const worker = new Worker('process.exit(3)', { eval: true });
    await new Promise((resolve) => worker.once('exit', resolve));
    expect(await hv.stopWorker(worker)).toBeUndefined();
    expect(lockIsFree(hv)).toBe(true);
  });
});
