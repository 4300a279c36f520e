/**
 * One thread of a two-thread ring stream, run by `prepareStream` in `stream.ts`: the
 * xenstore-style byte stream (guest writes requests, server reads them) or a `ring.h`
 * request/response ring (front sends requests, back answers each). The same program serves the
 * benchmark and the thread tests, which check that both ends saw the same stream.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AtomicsEvent, XENSTORE_RING_SIZE, XenstoreRing } from '../../src/ring/index.ts';
import { fnv1a } from '../../tests/ring/support/pattern.ts';
import { doorbellFutex } from './doorbell.ts';
import { type StreamJob, type StreamReport, streamLayout, streamRingType } from './stream.ts';

const job = workerData as StreamJob;
const { shared } = job;
const layout = streamLayout;
/** This thread's doorbell (the peer signals it) and the peer's. */
const futex = doorbellFutex();
const mine = new AtomicsEvent(shared, layout.event(job.role === 'producer' ? 0 : 1), futex);
const peer = new AtomicsEvent(shared, layout.event(job.role === 'producer' ? 1 : 0), futex);
/** Set by the producer once it stops: how many bytes or messages it sent in all. */
const total = new BigInt64Array(shared, layout.total, 1);

/**
 * Both threads start together when the caller releases them, so that no figure includes either
 * thread's start-up.
 */
const ready = new Int32Array(shared, layout.ready, 1);
Atomics.add(ready, 0, 1);
Atomics.notify(ready, 0);
parentPort!.postMessage('loaded');
for (let n = Atomics.load(ready, 0); n < 3; n = Atomics.load(ready, 0)) Atomics.wait(ready, 0, n);
const startedAt = now();
const deadline = startedAt + job.durationMs;

function now(): number {
  return performance.timeOrigin + performance.now();
}

let notifications = 0;
const notify = () => {
  notifications++;
  peer.signal();
};

function finish(count: number, messages: number, hash: number): never {
  const report: StreamReport = {
    count,
    messages,
    hash,
    notifications,
    startedAt,
    finishedAt: now(),
  };
  parentPort!.postMessage(report);
  process.exit(0);
}

/** The stream's bytes: a 64 KiB + 1 random block repeated, so no chunk lines up with the ring. */
const source = new Uint8Array(job.source);

function byteProducer(): never {
  const ring = new XenstoreRing('guest', shared, { notify });
  const period = source.length;
  let sent = 0;
  let messages = 0;
  let hash = 2166136261;
  while (sent < job.count && now() < deadline) {
    // One message: written in as many pieces as the ring's free space takes.
    let left = Math.min(job.messageSize, job.count - sent);
    messages++;
    while (left > 0) {
      const seen = mine.snapshot();
      const at = sent % period;
      const chunk = source.subarray(at, Math.min(at + left, period));
      const n = ring.write(chunk);
      if (n === 0) {
        mine.wait(seen);
        continue;
      }
      if (job.verify) hash = fnv1a(chunk.subarray(0, n), hash);
      sent += n;
      left -= n;
    }
  }
  Atomics.store(total, 0, BigInt(sent));
  peer.signal();
  finish(sent, messages, hash);
}

function byteConsumer(): never {
  const ring = new XenstoreRing('server', shared, { notify });
  const buf = new Uint8Array(XENSTORE_RING_SIZE);
  let got = 0;
  let hash = 2166136261;
  for (;;) {
    const seen = mine.snapshot();
    const n = ring.read(buf);
    if (n > 0) {
      if (job.verify) hash = fnv1a(buf.subarray(0, n), hash);
      got += n;
      continue;
    }
    const expected = Atomics.load(total, 0);
    if (expected >= 0n && BigInt(got) === expected) finish(got, 0, hash);
    mine.wait(seen);
  }
}

/**
 * The `requests` workload, batched as `stream.c` batches it: the front fills every free slot
 * (a sequence number in each entry), publishes them with one `pushRequests`, then takes every
 * response waiting and checks the sequence; the back takes every request waiting, answers each
 * with a copy of it, and publishes the answers with one `pushResponses`. Both ends copy each
 * entry out of the ring before reading it (`RING_COPY_*`), as the C ends do; the front fills a
 * staging buffer and copies it in where C writes the slots in place.
 */
function frontend(): never {
  const front = streamRingType(job.messageSize).attachFront(shared);
  const size = front.entrySize;
  const req = new Uint8Array(front.size * size);
  const reqView = new DataView(req.buffer);
  const rsp = new Uint8Array(front.size * size);
  const rspView = new DataView(rsp.buffer);
  let sent = 0;
  let received = 0;
  let hash = 2166136261;
  let stopped = false;
  for (;;) {
    const seen = mine.snapshot();
    let progress = 0;
    if (!stopped && (sent >= job.count || now() >= deadline)) {
      stopped = true;
      Atomics.store(total, 0, BigInt(sent));
      peer.signal();
    }
    if (!stopped) {
      const n = Math.min(front.freeRequests, job.count - sent);
      for (let k = 0; k < n; k++) reqView.setUint32(k * size, sent + k, true);
      front.writeRequests(req, n);
      sent += n;
      progress += n;
    }
    if (progress > 0 && front.pushRequests()) notify();
    for (let n = front.takeResponses(rsp); n > 0; n = front.takeResponses(rsp)) {
      for (let k = 0; k < n; k++) {
        const seq = rspView.getUint32(k * size, true);
        if (seq !== (received + k) >>> 0) {
          throw new Error(`response ${seq} arrived when ${received + k} was due`);
        }
        if (job.verify) hash = fnv1a(rsp.subarray(k * size, k * size + 4), hash);
      }
      received += n;
      progress += n;
    }
    if (stopped && received === sent) finish(sent, sent, hash);
    if (progress === 0 && !front.finalCheckForResponses()) mine.wait(seen);
  }
}

function backend(): never {
  const back = streamRingType(job.messageSize).attachBack(shared);
  const size = back.entrySize;
  const req = new Uint8Array(back.size * size);
  let done = 0;
  let hash = 2166136261;
  for (;;) {
    const seen = mine.snapshot();
    let answered = 0;
    for (let n = back.takeRequests(req); n > 0; n = back.takeRequests(req)) {
      if (job.verify) {
        for (let k = 0; k < n; k++) hash = fnv1a(req.subarray(k * size, k * size + 4), hash);
      }
      back.writeResponses(req, n);
      answered += n;
    }
    if (answered > 0) {
      done += answered;
      if (back.pushResponses()) notify();
      continue;
    }
    const expected = Atomics.load(total, 0);
    if (expected >= 0n && BigInt(done) === expected) finish(done, done, hash);
    if (!back.finalCheckForRequests()) mine.wait(seen);
  }
}

if (job.workload === 'bytes') {
  if (job.role === 'producer') byteProducer();
  else byteConsumer();
} else if (job.role === 'producer') {
  frontend();
} else {
  backend();
}
