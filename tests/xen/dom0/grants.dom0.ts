// Dom0, real Xen: grant pages. This process grants pages with /dev/xen/gntalloc; another Node
// process maps them with /dev/xen/gntdev, as a backend would. Then two rings from src/ring/ run
// over real grant pages between the two processes, each end asleep on a real event channel
// (/dev/xen/evtchn) whenever its ring has nothing for it: a flex ring's byte stream, and a
// ring.h request/response ring.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrantSharer } from '../../../src/device/grant-devices.ts';
import { loadNative, nativeAddonPath, type XenwireNative } from '../../../src/device/native.ts';
import {
  FlexIntfOffset,
  FlexRing,
  type FrontRing,
  RingArea,
  XEN_PAGE_SIZE,
} from '../../../src/ring/index.ts';
import { EventPort } from './grant-events.ts';
import {
  answerTo,
  ECHO_ENTRY_WORDS,
  ECHO_RING,
  FLEX_RING_ORDER,
  operandOf,
  patternByte,
} from './grant-ring-layout.ts';
import { skipDeviceSuites } from './lane-env.ts';

const peerScript = fileURLToPath(new URL('./grant-peer.ts', import.meta.url));
const repo = fileURLToPath(new URL('../../../', import.meta.url));
/** grant-peer.ts bundled by build-peer.mjs: under emulation tsx takes ~12 s to start it. */
const peerBundle = join(repo, '.cache/xen-lane/grants/grant-peer.mjs');
/** Granting to and mapping from the same domain: Dom0 plays both ends. */
const DOM0 = 0;
const STREAM_BYTES = 8 * 1024 * 1024;
/** ring.h requests sent one at a time (each waits for its response), then pipelined. */
const PING_PONGS = 200;
const PIPELINED = 20_000;

interface Peer {
  child: ChildProcess;
  lines: string[];
  /** Resolves at the first line the peer prints. */
  firstLine: Promise<string>;
  done: Promise<number>;
  stderr: string[];
}

function startPeer(args: (string | number)[]): Peer {
  const bundled = existsSync(peerBundle);
  const program = bundled ? [peerBundle] : ['--import', 'tsx', peerScript];
  const child = spawn(process.execPath, [...program, ...args.map(String)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // The bundle lives outside the source tree the addon's default path is relative to: it is
    // told where this process's addon is.
    env: bundled ? { ...process.env, XENWIRE_NATIVE_ADDON: nativeAddonPath() } : process.env,
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  let first: (line: string) => void = () => {};
  const firstLine = new Promise<string>((resolve) => {
    first = resolve;
  });
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    pending += text;
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const line of parts) {
      if (lines.length === 0) first(line);
      lines.push(line);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => stderr.push(text));
  const done = new Promise<number>((resolve) => child.once('close', (code) => resolve(code ?? -1)));
  return { child, lines, firstLine, done, stderr };
}

/** Waits for the peer to exit 0 (its stderr otherwise) and returns its last line, a JSON report. */
async function finalReport<T>(peer: Peer): Promise<T> {
  expect(await peer.done, peer.stderr.join('')).toBe(0);
  return JSON.parse(peer.lines.at(-1) ?? '{}') as T;
}

/**
 * `work`, failed at once with the peer's stderr if the peer dies first: otherwise this end would
 * sit in an event wait until it times out, and the reason would be lost.
 */
function alongside<T>(peer: Peer, work: Promise<T>): Promise<T> {
  const died = peer.done.then((status) => {
    if (status !== 0) throw new Error(`peer exited with ${status}: ${peer.stderr.join('')}`);
    return work;
  });
  return Promise.race([work, died]);
}

/**
 * Writes `stream` into the ring, asleep on the event channel while the ring is full. The stream
 * is made beforehand, so that the consumer's check, not the making, sets the pace and the ring
 * fills.
 */
async function produce(ring: FlexRing, events: EventPort, stream: Uint8Array): Promise<void> {
  let sent = 0;
  while (sent < stream.length) {
    // The ring notifies the consumer when this write may find it asleep on an empty ring.
    const n = ring.write(stream.subarray(sent));
    if (n === 0) await events.wait('room in the ring');
    sent += n;
  }
}

interface Exchange {
  answered: number;
  mismatches: number;
  seconds: number;
  /** Notifications this end sent to the backend. */
  notified: number;
}

/**
 * Sends requests `first` to `first + count - 1`, at most `window` awaiting a response at once,
 * and checks that each response answers its request.
 */
async function exchange(
  front: FrontRing,
  events: EventPort,
  first: number,
  count: number,
  window: number,
): Promise<Exchange> {
  const requests = new Uint32Array(front.size * ECHO_ENTRY_WORDS);
  const responses = new Uint32Array(front.size * ECHO_ENTRY_WORDS);
  const requestBytes = new Uint8Array(requests.buffer);
  const responseBytes = new Uint8Array(responses.buffer);
  const notifiedBefore = events.notified;
  let sent = 0;
  let answered = 0;
  let mismatches = 0;
  const started = process.hrtime.bigint();
  while (answered < count) {
    const room = Math.min(window - (sent - answered), front.freeRequests, count - sent);
    for (let i = 0; i < room; i++) {
      const id = first + sent + i;
      requests[i * ECHO_ENTRY_WORDS] = id;
      requests[i * ECHO_ENTRY_WORDS + 1] = operandOf(id);
    }
    sent += front.writeRequests(requestBytes, room);
    // RING_PUSH_REQUESTS_AND_CHECK_NOTIFY: notifies only a backend that armed req_event.
    if (front.pushRequests()) events.notify();
    const n = front.takeResponses(responseBytes);
    if (n === 0) {
      // RING_FINAL_CHECK_FOR_RESPONSES: re-arms rsp_event, so the next response notifies.
      if (!front.finalCheckForResponses()) await events.wait('responses');
      continue;
    }
    for (let i = 0; i < n; i++) {
      const id = first + answered + i;
      const at = i * ECHO_ENTRY_WORDS;
      if (responses[at] !== id || responses[at + 1] !== answerTo(operandOf(id))) mismatches++;
    }
    answered += n;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { answered, mismatches, seconds, notified: events.notified - notifiedBefore };
}

describe.skipIf(skipDeviceSuites)('grant pages between two processes in a real Dom0', () => {
  let native: XenwireNative;
  let gntalloc = -1;
  beforeAll(() => {
    expect(existsSync('/dev/xen/gntalloc')).toBe(true);
    native = loadNative();
    gntalloc = openSync('/dev/xen/gntalloc', 'r+');
  });
  afterAll(() => {
    if (gntalloc >= 0) closeSync(gntalloc);
  });

  it('maps a gntalloc page through gntdev in another process, both ways', async () => {
    const { index, refs } = native.gntallocAllocGref(gntalloc, DOM0, 1, true);
    expect(refs).toHaveLength(1);
    const page = new Uint8Array(native.mmap(gntalloc, XEN_PAGE_SIZE, index, true));
    Buffer.from(`granted by ${process.pid}\0`).copy(page, 0);

    const peer = startPeer(['echo', String(DOM0), String(refs[0])]);
    expect(await peer.done, peer.stderr.join('')).toBe(0);
    expect(JSON.parse(peer.lines[0] ?? '{}')).toEqual({ seen: `granted by ${process.pid}` });
    const answer = Buffer.from(page.subarray(2048, page.indexOf(0, 2048))).toString('utf8');
    expect(answer).toMatch(new RegExp(`^peer \\d+ read: granted by ${process.pid}$`));

    native.munmap(page.buffer as ArrayBuffer);
    native.gntallocDeallocGref(gntalloc, index, 1);
  });

  it('streams a flex ring over real grant pages, woken by a real event channel', async () => {
    const dataPages = 2 ** FLEX_RING_ORDER;
    const sharer = GrantSharer.open();
    const shared = sharer.share(DOM0, 1 + dataPages);
    const events = EventPort.offer(DOM0);
    let peer: Peer | undefined;
    try {
      // As a pvcalls frontend publishes it: the order and the data pages' grants in the
      // interface page. Fresh gntalloc pages are zeroed, so every index starts at 0.
      const [intfRef, ...dataRefs] = shared.refs;
      const intf = new RingArea(shared.buffer, 0, XEN_PAGE_SIZE, 'flex interface');
      intf.store(FlexIntfOffset.ringOrder, FLEX_RING_ORDER);
      for (const [i, ref] of dataRefs.entries()) intf.store(FlexIntfOffset.ref + 4 * i, ref);
      const ring = new FlexRing('frontend', shared.buffer, shared.buffer, FLEX_RING_ORDER, {
        dataOffset: XEN_PAGE_SIZE,
        notify: events.notify,
      });
      const stream = new Uint8Array(STREAM_BYTES);
      for (let i = 0; i < STREAM_BYTES; i++) stream[i] = patternByte(i);
      peer = startPeer(['flex', DOM0, events.port, STREAM_BYTES, intfRef!]);
      expect(await alongside(peer, peer.firstLine)).toBe('ready');

      await alongside(peer, produce(ring, events, stream));
      const report = await finalReport<{
        received: number;
        mismatches: number;
        seconds: number;
        notified: number;
        woken: number;
      }>(peer);
      expect(report).toMatchObject({ received: STREAM_BYTES, mismatches: 0 });
      const { seconds } = report;
      console.log(
        `xen-lane: ring throughput over real grant pages (flex ring, gntalloc -> gntdev, two ` +
          `processes, ${ring.out.size / 1024} KiB ring, event channel): ` +
          `${(STREAM_BYTES / 2 ** 20 / seconds).toFixed(1)} MiB/s ` +
          `(${STREAM_BYTES / 2 ** 20} MiB in ${seconds.toFixed(2)} s; notifications: ` +
          `${events.notified} to the consumer, ${report.notified} back to the producer; ` +
          `wake-ups: consumer ${report.woken}, producer ${events.woken})`,
      );
    } finally {
      peer?.child.kill();
      events.close();
      shared.release();
      sharer.close();
    }
  });

  it('answers ring.h requests across the processes, woken by a real event channel', async () => {
    const sharer = GrantSharer.open();
    const shared = sharer.share(DOM0, 1);
    const events = EventPort.offer(DOM0);
    let peer: Peer | undefined;
    try {
      const front = ECHO_RING.initFront(shared.buffer);
      const total = PING_PONGS + PIPELINED;
      peer = startPeer(['sring', DOM0, events.port, total, shared.refs[0]!]);
      expect(await alongside(peer, peer.firstLine)).toBe('ready');

      const serial = await alongside(peer, exchange(front, events, 0, PING_PONGS, 1));
      const batched = await alongside(
        peer,
        exchange(front, events, PING_PONGS, PIPELINED, front.size),
      );
      const report = await finalReport<{
        handled: number;
        mismatches: number;
        notified: number;
        woken: number;
      }>(peer);
      expect(report).toMatchObject({ handled: total, mismatches: 0 });
      expect(serial).toMatchObject({ answered: PING_PONGS, mismatches: 0 });
      expect(batched).toMatchObject({ answered: PIPELINED, mismatches: 0 });
      const rate = (phase: Exchange) => (phase.answered / phase.seconds).toFixed(0);
      console.log(
        `xen-lane: ring.h round trips over a real grant page (gntalloc -> gntdev, two ` +
          `processes, ${front.size} slots, event channel): one request in flight: ` +
          `${rate(serial)} round trips/s (${PING_PONGS} in ${serial.seconds.toFixed(2)} s, ` +
          `${serial.notified} notifications to the backend); up to ${front.size} in flight: ` +
          `${rate(batched)} requests answered/s (${PIPELINED} in ` +
          `${batched.seconds.toFixed(2)} s, ${batched.notified} notifications to the backend); ` +
          `the backend notified ${report.notified} times and woke ${report.woken} times in all`,
      );
    } finally {
      peer?.child.kill();
      events.close();
      shared.release();
      sharer.close();
    }
  });
});
