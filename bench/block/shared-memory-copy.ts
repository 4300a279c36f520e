/**
 * The block pair's baseline: two worker threads moving the same bytes through a
 * SharedArrayBuffer with no protocol at all, slots handed over with Atomics.wait/notify. The
 * least any pair of workers pays to move them.
 */
import { Worker } from 'node:worker_threads';

/** What to move, as the candidate moves it. */
export interface CopyJob {
  readonly bytes: number;
  readonly requestBytes: number;
  /** Slots in flight. */
  readonly depth: number;
  /** Timed passes, after an untimed one. */
  readonly passes: number;
}

// One end: the producer copies each request from its data into a free slot, the consumer copies
// each full slot into its disk; one untimed pass first, as the candidate does.
const copyEnd = `
const { parentPort, workerData } = require('node:worker_threads');
const { role, slots, state, bytes, requestBytes, depth, passes } = workerData;
const memory = new Uint8Array(bytes);
const requests = bytes / requestBytes;
parentPort.once('message', () => {
  let started = 0;
  for (let pass = 0; pass <= passes; pass++) {
    if (pass === 1) started = performance.now();
    for (let i = 0; i < requests; i++) {
      const n = (pass * requests + i) % depth;
      const slot = new Uint8Array(slots, n * requestBytes, requestBytes);
      const chunk = memory.subarray(i * requestBytes, (i + 1) * requestBytes);
      if (role === 'producer') {
        while (Atomics.load(state, n) !== 0) Atomics.wait(state, n, 1);
        slot.set(chunk);
        Atomics.store(state, n, 1);
      } else {
        while (Atomics.load(state, n) !== 1) Atomics.wait(state, n, 0);
        chunk.set(slot);
        Atomics.store(state, n, 0);
      }
      Atomics.notify(state, n);
    }
  }
  parentPort.postMessage((passes * bytes) / 1e6 / ((performance.now() - started) / 1000));
});
parentPort.postMessage('ready');
`;

const next = (worker: Worker) =>
  new Promise<unknown>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });

/** Both ends loaded and waiting; `run` moves the bytes once and settles with the MB/s. */
export async function prepareCopy(
  job: CopyJob,
): Promise<{ run(): Promise<number>; close(): Promise<void> }> {
  const common = {
    ...job,
    slots: new SharedArrayBuffer(job.depth * job.requestBytes),
    state: new Int32Array(new SharedArrayBuffer(job.depth * 4)),
  };
  const ends = (['producer', 'consumer'] as const).map(
    (role) => new Worker(copyEnd, { eval: true, workerData: { ...common, role } }),
  );
  const close = async () => {
    await Promise.all(ends.map((end) => end.terminate()));
  };
  try {
    await Promise.all(ends.map(next));
  } catch (error) {
    await close();
    throw error;
  }
  const run = async () => {
    const rates = Promise.all(ends.map(next));
    for (const end of ends) end.postMessage('go');
    const [, consumed] = (await rates) as number[];
    return consumed as number;
  };
  return { run, close };
}
