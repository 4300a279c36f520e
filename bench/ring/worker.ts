/**
 * One thread of a two-thread ring stream, run by {@link runStream} in `threads.ts`: the
 * xenstore-style byte stream (guest writes requests, server reads them) or a `ring.h`
 * request/response ring (front sends requests, back answers each). The same program serves the
 * benchmark and the thread tests, which check that both ends saw the same stream.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AtomicsEvent, XENSTORE_RING_SIZE, XenstoreRing } from '../../src/ring/index.ts';
import { fnv1a } from '../../tests/ring/support/pattern.ts';
import { type StreamJob, type StreamReport, streamLayout, streamRingType } from './stream.ts';

const job = workerData as StreamJob;
const { shared } = job;
const layout = streamLayout;
/** This thread's doorbell (the peer signals it) and the peer's. */
const mine = new AtomicsEvent(shared, layout.event(job.role === 'producer' ? 0 : 1));
const peer = new AtomicsEvent(shared, layout.event(job.role === 'producer' ? 1 : 0));
/** Set by the producer once it stops: how many bytes or messages it sent in all. */
const total = new BigInt64Array(shared, layout.total, 1);

/** Both threads start together, so neither figure includes the other's start-up. */
const ready = new Int32Array(shared, layout.ready, 1);
Atomics.add(ready, 0, 1);
Atomics.notify(ready, 0);
for (let n = Atomics.load(ready, 0); n < 2; n = Atomics.load(ready, 0)) Atomics.wait(ready, 0, n);
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

function frontend(): never {
  const front = streamRingType(job.messageSize).attachFront(shared);
  const view = new DataView(shared);
  const rsp = new Uint8Array(front.entrySize);
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
    while (!stopped && !front.full && sent < job.count) {
      view.setUint32(front.nextRequest().byteOffset, sent++, true);
      progress++;
    }
    if (progress > 0 && front.pushRequests()) notify();
    while (front.takeResponse(rsp) !== undefined) {
      const seq = rspView.getUint32(0, true);
      if (seq !== received) throw new Error(`response ${seq} arrived when ${received} was due`);
      if (job.verify) hash = fnv1a(rsp.subarray(0, 4), hash);
      received++;
      progress++;
    }
    if (stopped && received === sent) finish(sent, sent, hash);
    if (progress === 0 && !front.finalCheckForResponses()) mine.wait(seen);
  }
}

function backend(): never {
  const back = streamRingType(job.messageSize).attachBack(shared);
  const req = new Uint8Array(back.entrySize);
  let done = 0;
  let hash = 2166136261;
  for (;;) {
    const seen = mine.snapshot();
    let n = 0;
    while (back.takeRequest(req) !== undefined) {
      if (job.verify) hash = fnv1a(req.subarray(0, 4), hash);
      back.nextResponse().set(req);
      n++;
    }
    if (n > 0) {
      done += n;
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
