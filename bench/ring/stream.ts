import { randomFillSync } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import {
  AtomicsEvent,
  defineRing,
  type RingType,
  XEN_PAGE_SIZE,
  XenstoreFeature,
  XenstoreRing,
} from '../../src/ring/index.ts';

/**
 * Runs a two-thread ring stream (see `worker.ts`): a producer and a consumer worker sharing one
 * `SharedArrayBuffer` laid out as a 4 KiB ring page, two doorbells and a "total" word.
 */

/** Where things are in the shared buffer. */
export const streamLayout = {
  /** Doorbell `i` (0: the producer's, 1: the consumer's). */
  event: (i: number) => XEN_PAGE_SIZE + AtomicsEvent.BYTES * i,
  /**
   * i32: parties ready to start: each thread adds 1 once loaded, the caller 1 when it releases
   * them; both start timing once it reaches 3.
   */
  ready: XEN_PAGE_SIZE + 2 * AtomicsEvent.BYTES,
  /** i64: bytes or messages the producer sent, once it stopped; -1 before. */
  total: XEN_PAGE_SIZE + 2 * AtomicsEvent.BYTES + 8,
  bytes: XEN_PAGE_SIZE + 2 * AtomicsEvent.BYTES + 16,
} as const;

export interface StreamOptions {
  /** `bytes`: xenstore page byte stream. `requests`: one-page `ring.h` ring, request + response. */
  readonly workload: 'bytes' | 'requests';
  /** Bytes (bytes) or messages (requests) to send at most. */
  readonly count: number;
  /** Stop producing this long after the start even if `count` is not reached. */
  readonly durationMs?: number;
  /** Bytes per message: per `write` burst for `bytes`, the entry size for `requests`. */
  readonly messageSize: number;
  /** Hash the stream at both ends (costs time; off for benchmarks). */
  readonly verify?: boolean;
}

export interface StreamJob extends Required<StreamOptions> {
  readonly role: 'producer' | 'consumer';
  readonly shared: SharedArrayBuffer;
  readonly source: ArrayBuffer;
}

/** What one end reports. */
export interface StreamReport {
  /** Bytes or messages moved. */
  readonly count: number;
  /** Messages sent (producer). */
  readonly messages: number;
  /** FNV-1a of the stream, when verifying. */
  readonly hash: number;
  /** Notifications this end sent. */
  readonly notifications: number;
  /** When this end started and finished, in ms since the epoch (comparable across threads). */
  readonly startedAt: number;
  readonly finishedAt: number;
}

export interface StreamResult {
  readonly producer: StreamReport;
  readonly consumer: StreamReport;
  readonly seconds: number;
}

/** The `ring.h` ring type of the `requests` workload: request and response of one size. */
export function streamRingType(messageSize: number): RingType {
  return defineRing({ name: 'stream', requestSize: messageSize, responseSize: messageSize });
}

const entry = new URL('./worker-entry.mjs', import.meta.url);
const program = new URL('./worker.ts', import.meta.url).href;

/** A stream whose two threads are loaded and waiting; `run()` releases them. */
export interface PreparedStream {
  run(): Promise<StreamResult>;
}

/** Runs both ends to completion and returns their reports. */
export async function runStream(options: StreamOptions): Promise<StreamResult> {
  return (await prepareStream(options)).run();
}

/**
 * Starts both threads and resolves once both are loaded and waiting, so that what `run()` then
 * measures is the stream alone.
 */
export async function prepareStream(options: StreamOptions): Promise<PreparedStream> {
  const shared = new SharedArrayBuffer(streamLayout.bytes);
  new BigInt64Array(shared, streamLayout.total, 1)[0] = -1n;
  // The page is laid out before either thread starts, as a toolstack does before a domain runs.
  if (options.workload === 'bytes') XenstoreRing.initialise(shared, XenstoreFeature.RECONNECTION);
  else streamRingType(options.messageSize).initFront(shared);
  const source = new ArrayBuffer(65537);
  randomFillSync(new Uint8Array(source));
  const job = (role: StreamJob['role']): StreamJob => ({
    durationMs: Number.POSITIVE_INFINITY,
    verify: false,
    ...options,
    role,
    shared,
    source,
  });
  const threads = {
    consumer: startWorker(job('consumer')),
    producer: startWorker(job('producer')),
  };
  const reports = Promise.all([threads.consumer.report, threads.producer.report]);
  // A thread that fails to load rejects `reports` before it could say it is loaded.
  await Promise.race([Promise.all([threads.consumer.loaded, threads.producer.loaded]), reports]);
  return {
    async run() {
      const ready = new Int32Array(shared, streamLayout.ready, 1);
      Atomics.add(ready, 0, 1);
      Atomics.notify(ready, 0);
      const [consumer, producer] = await reports;
      // From the moment both threads were released to the moment the consumer had everything:
      // thread start-up and module loading stay out of the figure.
      return { producer, consumer, seconds: (consumer.finishedAt - producer.startedAt) / 1000 };
    },
  };
}

/**
 * Starts one thread: `loaded` resolves when it is waiting for the release, `report` with what it
 * posts when done.
 */
function startWorker(job: StreamJob): { loaded: Promise<void>; report: Promise<StreamReport> } {
  const worker = new Worker(entry, { workerData: { ...job, program } });
  const loaded = new Promise<void>((resolve) => worker.once('message', () => resolve()));
  const report = new Promise<StreamReport>((resolve, reject) => {
    let last: StreamReport | undefined;
    worker.on('message', (m: StreamReport | 'loaded') => {
      if (m !== 'loaded') last = m;
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (last !== undefined) resolve(last);
      else reject(new Error(`${job.role} worker exited with ${code} and no report`));
    });
  });
  return { loaded, report };
}

/**
 * Both ends of the `requests` ring in turn on the calling thread for `durationMs`: the cost of
 * the ring code alone, with no wake-ups. Returns round trips and seconds.
 */
export function runInline(
  messageSize: number,
  durationMs: number,
): { count: number; seconds: number } {
  const shared = new SharedArrayBuffer(XEN_PAGE_SIZE);
  const type = streamRingType(messageSize);
  const front = type.initFront(shared);
  const back = type.attachBack(shared);
  const size = front.entrySize;
  // One ring's worth of entries each way, batched like the two-thread workload (`worker.ts`).
  const req = new Uint8Array(front.size * size);
  const reqView = new DataView(req.buffer);
  const rsp = new Uint8Array(front.size * size);
  const rspView = new DataView(rsp.buffer);
  const started = performance.now();
  const deadline = started + durationMs;
  let sent = 0;
  let received = 0;
  while (performance.now() < deadline) {
    const free = front.freeRequests;
    for (let k = 0; k < free; k++) reqView.setUint32(k * size, sent + k, true);
    sent += front.writeRequests(req, free);
    front.pushRequests();
    for (let n = back.takeRequests(req); n > 0; n = back.takeRequests(req)) {
      back.writeResponses(req, n);
    }
    back.pushResponses();
    for (let n = front.takeResponses(rsp); n > 0; n = front.takeResponses(rsp)) {
      for (let k = 0; k < n; k++) {
        if (rspView.getUint32(k * size, true) !== (received + k) >>> 0) {
          throw new Error('response out of order');
        }
      }
      received += n;
    }
  }
  return { count: received, seconds: (performance.now() - started) / 1000 };
}
