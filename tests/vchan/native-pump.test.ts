// The native vchan pump (native/src/vchan-pump.c) against the JavaScript end it follows
// (src/ring/vchan.ts, driven as RingDuplex drives it): the same random ring states, peer moves
// and chunkings in two copies of ordinary memory must give the same bytes, indexes, notify bits,
// live bytes, offsets, reads, notify decisions and errors.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  RingError,
  Vchan,
  VchanLive,
  VchanOffset,
  type VchanOrders,
} from '../../src/ring/index.ts';
import { NativeVchanPump } from '../../src/vchan/native-mover.ts';
import { nativeAddonReady } from '../support/requirements.ts';

const INBOX = 64 * 1024;

/** One copy of a vchan's memory: the page and the data of rings of order 12 and up. */
interface Memory {
  readonly page: SharedArrayBuffer;
  readonly left: SharedArrayBuffer | undefined;
  readonly right: SharedArrayBuffer | undefined;
}

function layOut(orders: VchanOrders): Memory {
  const data = (order: number) => (order >= 12 ? new SharedArrayBuffer(2 ** order) : undefined);
  const memory = {
    page: new SharedArrayBuffer(4096),
    left: data(orders.left),
    right: data(orders.right),
  };
  Vchan.initServer(memory.page, orders, options(memory));
  return memory;
}

function options(memory: Memory, notify?: () => void) {
  return {
    ...(memory.left ? { left: { buffer: memory.left } } : {}),
    ...(memory.right ? { right: { buffer: memory.right } } : {}),
    ...(notify ? { notify } : {}),
  };
}

function copy(from: Memory, to: Memory): void {
  for (const key of ['page', 'left', 'right'] as const) {
    const source = from[key];
    const target = to[key];
    if (source && target) new Uint8Array(target).set(new Uint8Array(source));
  }
}

/** Whether both copies hold the same bytes (page and data). */
function same(a: Memory, b: Memory): boolean {
  return (['page', 'left', 'right'] as const).every((key) => {
    const [x, y] = [a[key], b[key]];
    return x === undefined || (y !== undefined && Buffer.from(x).equals(Buffer.from(y)));
  });
}

/** Where chunks are cut from: bytes numbered so that a misplaced one shows. */
const source = Buffer.alloc(2 ** 18).map((_, i) => (i * 7 + (i >>> 8)) & 0xff);

/** What the peer does between two steps of this end, on the raw page. */
interface PeerMove {
  /** Bytes it reads from this end's write ring (at most what is there). */
  readonly consume: number;
  /**
   * Bytes it writes into this end's read ring (at most what fits), with this seed; -1: one
   * byte past the end of the ring's data, so that a read copies a single byte after the wrap.
   */
  readonly produce: number;
  readonly seed: number;
  /** New values of the two notify bytes, when set. */
  readonly myRequests: number | undefined;
  readonly peerRequests: number | undefined;
  /** A new live byte of the peer, when set. */
  readonly peerLive: number | undefined;
  /** An index moved past the ring (a hostile or broken peer), rarely. */
  readonly corrupt: 'tx' | 'rx' | undefined;
}

/** One round of this end: the peer's move, then a step with these inputs. */
interface Round {
  readonly peer: PeerMove;
  readonly wantRead: boolean;
  /** A new chunk of this length replaces the current one (always when it is all written). */
  readonly newChunk: number | undefined;
}

const order = fc.integer({ min: 10, max: 17 });
const orders = fc
  .tuple(order, order)
  .filter(([left, right]) => left !== right || left >= 12)
  .map(([left, right]) => ({ left, right }));
/** An index: anywhere, or a few bytes before the end of every ring (and before 2^32). */
const start = fc.oneof(
  fc.nat({ max: 2 ** 32 - 1 }),
  fc.integer({ min: 1, max: 70 }).map((k) => 2 ** 32 - k),
);
const bits = fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined });
const peerMove: fc.Arbitrary<PeerMove> = fc.record({
  consume: fc.oneof(
    fc.constant(0),
    fc.integer({ min: 1, max: 70 }),
    fc.integer({ min: 0, max: 2 ** 17 }),
  ),
  produce: fc.oneof(
    fc.constant(0),
    fc.constant(-1),
    fc.integer({ min: 1, max: 70 }),
    fc.integer({ min: 0, max: 2 ** 17 }),
  ),
  seed: fc.integer({ min: 0, max: 255 }),
  myRequests: bits,
  peerRequests: bits,
  peerLive: fc.option(fc.constantFrom(0, 1, 2), { nil: undefined, freq: 6 }),
  corrupt: fc.option(fc.constantFrom('tx' as const, 'rx' as const), { nil: undefined, freq: 30 }),
});
const round: fc.Arbitrary<Round> = fc.record({
  peer: peerMove,
  wantRead: fc.boolean(),
  newChunk: fc.option(
    fc.oneof(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 0, max: 2 ** 17 })),
    { nil: undefined, freq: 3 },
  ),
});

/** The rings as this end sees them: which it writes, which it reads, its notify bytes. */
function sides(role: 'server' | 'client') {
  const server = role === 'server';
  return {
    tx: server ? VchanOffset.rightCons : VchanOffset.leftCons,
    rx: server ? VchanOffset.leftCons : VchanOffset.rightCons,
    myRequests: server ? VchanOffset.srvNotify : VchanOffset.cliNotify,
    peerRequests: server ? VchanOffset.cliNotify : VchanOffset.srvNotify,
    peerLive: server ? VchanOffset.cliLive : VchanOffset.srvLive,
  };
}

function movePeer(vchan: Vchan, memory: Memory, move: PeerMove): void {
  const view = new DataView(memory.page);
  const at = sides(vchan.role);
  const tx = vchan.role === 'server' ? vchan.right : vchan.left;
  const rx = vchan.role === 'server' ? vchan.left : vchan.right;
  const data = vchan.role === 'server' ? vchan.memory.left : vchan.memory.right;
  const used = (ring: typeof tx) => (ring.prod - ring.cons) >>> 0;
  if (used(tx) <= tx.size) {
    view.setUint32(at.tx, (tx.cons + Math.min(move.consume, used(tx))) >>> 0, true);
  }
  if (used(rx) <= rx.size) {
    const prod = rx.prod;
    const wanted = move.produce < 0 ? rx.size - (prod & (rx.size - 1)) + 1 : move.produce;
    const n = Math.min(wanted, rx.size - used(rx));
    for (let i = 0; i < n; i++) data[(prod + i) & (rx.size - 1)] = (move.seed + i * 13) & 0xff;
    view.setUint32(at.rx + 4, (prod + n) >>> 0, true);
  }
  const bytes = new Uint8Array(memory.page);
  if (move.myRequests !== undefined) bytes[at.myRequests] = move.myRequests;
  if (move.peerRequests !== undefined) bytes[at.peerRequests] = move.peerRequests;
  if (move.peerLive !== undefined) bytes[at.peerLive] = move.peerLive;
  if (move.corrupt) {
    const ring = move.corrupt === 'tx' ? tx : rx;
    view.setUint32(
      (move.corrupt === 'tx' ? at.tx : at.rx) + 4,
      (ring.cons + ring.size + 1 + move.seed) >>> 0,
      true,
    );
  }
}

/** What RingDuplex does with the JavaScript end in one round: write unless the peer is gone, read. */
function referenceStep(
  vchan: Vchan,
  chunk: Uint8Array | null,
  offset: number,
  wantRead: boolean,
  inbox: Uint8Array,
) {
  const peerLive = vchan.peerLive;
  let written = 0;
  let received = 0;
  let error: Error | undefined;
  try {
    if (chunk && offset < chunk.length && peerLive !== VchanLive.EXITED) {
      written = vchan.write(chunk.subarray(offset));
    }
    if (wantRead) received = vchan.read(inbox);
  } catch (caught) {
    error = caught as Error;
  }
  return { peerLive, offset: offset + written, received: inbox.subarray(0, received), error };
}

describe.skipIf(!nativeAddonReady())('native vchan pump', () => {
  it('moves the same bytes and takes the same notify decisions as the JavaScript end', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('server' as const, 'client' as const),
        orders,
        // Free-running indexes start anywhere (near the 2^32 wrap too) and sit anywhere in a ring.
        fc.tuple(start, start),
        fc.array(round, { minLength: 1, maxLength: 25 }),
        (role, ringOrders, starts, rounds) => {
          const reference = layOut(ringOrders);
          const view = new DataView(reference.page);
          for (const [i, at] of [VchanOffset.leftCons, VchanOffset.rightCons].entries()) {
            view.setUint32(at, starts[i] as number, true);
            view.setUint32(at + 4, starts[i] as number, true);
          }
          const native = layOut(ringOrders);
          let wakes = 0;
          const js = new Vchan(
            role,
            reference.page,
            options(reference, () => wakes++),
          );
          const viaNative = new Vchan(role, native.page, options(native));
          const pump = new NativeVchanPump(viaNative, -1, 0);
          const inbox = new Uint8Array(INBOX);
          let chunk: Uint8Array | null = null;
          let offset = 0;
          try {
            for (const [i, { peer, wantRead, newChunk }] of rounds.entries()) {
              movePeer(js, reference, peer);
              copy(reference, native);
              if (newChunk !== undefined || (chunk && offset === chunk.length)) {
                chunk = newChunk === undefined ? null : source.subarray(i, i + newChunk);
                offset = 0;
              }
              const wakesBefore = wakes;
              const notifiesBefore = pump.notifies;
              const expected = referenceStep(js, chunk, offset, wantRead, inbox);
              pump.wantRead = wantRead;
              pump.step(chunk, offset);
              expect(pump.peerLive).toBe(expected.peerLive);
              expect(pump.peerDone).toBe(expected.peerLive === VchanLive.EXITED);
              expect(pump.offset).toBe(expected.offset);
              expect(Buffer.from(pump.received).equals(Buffer.from(expected.received))).toBe(true);
              // One event wakes the peer for both directions: the pump sends at most one.
              expect(pump.notifies - notifiesBefore).toBe(wakes > wakesBefore ? 1 : 0);
              expect(same(native, reference)).toBe(true);
              if (expected.error) {
                expect(expected.error).toBeInstanceOf(RingError);
                expect(pump.error).toEqual(expected.error);
                return;
              }
              expect(pump.error).toBeUndefined();
              offset = expected.offset;
            }
          } finally {
            pump.close();
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('refuses memory that does not match the page, and steps once closed', () => {
    const memory = layOut({ left: 10, right: 11 });
    const vchan = new Vchan('client', memory.page);
    const native = new NativeVchanPump(vchan, -1, 0);
    native.close();
    native.close();
    expect(() => native.step(null, 0)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    const short = { ...vchan.memory, left: vchan.memory.left.subarray(1) };
    const wrong = Object.assign(Object.create(Vchan.prototype) as Vchan, {
      role: 'client',
      memory: short,
    });
    expect(() => new NativeVchanPump(wrong, -1, 0)).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
  });
});
