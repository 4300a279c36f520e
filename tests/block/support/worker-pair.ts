/**
 * A block device between two worker threads of a simulated host: blkfront in domain 1, blkback
 * serving a memory disk in driver domain 2, nothing but the hypervisor's shared memory between
 * them (throughput-worker.ts is either end). Used by tests/block/workers.test.ts, which checks
 * the data, and bench/block/pair-process.ts, which times it.
 */
import type { Worker } from 'node:worker_threads';
import { createSimulatedHost } from '../../../src/host/index.ts';
import { createDevice } from '../../../src/xenbus/index.ts';

const bootstrap = new URL('../../evtchn/support/typescript-worker.mjs', import.meta.url);
const entry = new URL('./throughput-worker.ts', import.meta.url).href;

/** What to move: `bytes` each way, `passes` times after an untimed pass. */
export interface WorkerPairJob {
  readonly bytes: number;
  readonly requestBytes: number;
  /** Requests in flight. */
  readonly depth: number;
  readonly passes: number;
}

/** The frontend's rates and digests, and how the backend ended. */
export interface WorkerPairOutcome {
  readonly writeMBs: number;
  readonly readMBs: number;
  /** sha256 of what the frontend wrote, and of what it read back. */
  readonly wrote: string;
  readonly read: string;
  /** The backend's close reason (`ECONNRESET` when the frontend closed) and its error count. */
  readonly closed: string;
  readonly errors: number;
}

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

/** A pair set up and waiting: `run` starts it and settles with its outcome, once. */
export interface PreparedWorkerPair {
  run(): Promise<WorkerPairOutcome>;
  /** Closes the simulated host (and so both workers). */
  close(): Promise<void>;
}

/**
 * Sets the pair up on a fresh simulated host: both workers loaded and the device created, the
 * frontend waiting for `run` to begin. A bench measures `run` alone.
 */
export async function prepareWorkerPair(job: WorkerPairJob): Promise<PreparedWorkerPair> {
  const devid = 51712;
  const host = await createSimulatedHost({
    hypervisor: { maxDomains: 4, grantsPerDomain: 1400 },
  });
  try {
    const common = { devid, ...job };
    const front = await host.spawnGuestWorker(bootstrap, {
      domid: 1,
      workerData: { entry, role: 'frontend', peer: 2, ...common },
    });
    const back = await host.spawnGuestWorker(bootstrap, {
      domid: 2,
      workerData: { entry, role: 'backend', peer: 1, ...common },
    });
    await createDevice(host.dom0Client, { type: 'vbd', frontendDomid: 1, backendDomid: 2, devid });
    const run = async (): Promise<WorkerPairOutcome> => {
      const results = message<{ writeMBs: number; readMBs: number; wrote: string; read: string }>(
        front.worker,
        'writeMBs',
      );
      const closed = message<{ closed: string; stats: { errors: number } }>(back.worker, 'closed');
      back.worker.postMessage('go');
      front.worker.postMessage('go');
      const { writeMBs, readMBs, wrote, read } = await results;
      const end = await closed;
      return { writeMBs, readMBs, wrote, read, closed: end.closed, errors: end.stats.errors };
    };
    return { run, close: () => host.close() };
  } catch (error) {
    await host.close();
    throw error;
  }
}

/** Runs the pair once on a fresh simulated host. */
export async function runWorkerPair(job: WorkerPairJob): Promise<WorkerPairOutcome> {
  const pair = await prepareWorkerPair(job);
  try {
    return await pair.run();
  } finally {
    await pair.close();
  }
}
