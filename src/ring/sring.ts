import { RingError, RingIndexError } from './errors.ts';
import { RingArea, type RingBuffer, XEN_PAGE_SIZE } from './memory.ts';

/**
 * Request/response rings of `xen/include/public/io/ring.h` (`DEFINE_RING_TYPES`), the transport
 * of blkif, netif and most split drivers.
 *
 * The shared area starts with a 64-byte header — `req_prod, req_event, rsp_prod, rsp_event`
 * (u32 each), 4 private bytes, 44 bytes of padding — followed by `nr_ents` slots, each the size
 * of the request/response union. The frontend produces requests and consumes responses; the
 * backend the reverse. Each end counts its progress in private indices and publishes it with
 * one store; the event indices let an end ask to be notified only when the peer passes a given
 * point, which is what keeps batched traffic from costing a notification per message.
 */

/** Bytes before the first slot (`offsetof(struct sring, ring)`). */
export const SRING_HEADER_SIZE = 64;

/** Byte offsets of the shared header's fields. */
export const SringOffset = {
  /** u32 `req_prod`: requests the frontend has published. */
  reqProd: 0,
  /** u32 `req_event`: the backend wants an event when `req_prod` passes this. */
  reqEvent: 4,
  /** u32 `rsp_prod`: responses the backend has published. */
  rspProd: 8,
  /** u32 `rsp_event`: the frontend wants an event when `rsp_prod` passes this. */
  rspEvent: 12,
  /** `pvt.pvt_pad[4]`, used by some protocols (netif `smartpoll_active`). */
  pvt: 16,
  /** `pad[44]`: reserved, zeroed by `SHARED_RING_INIT`. */
  pad: 20,
  /** The first slot. */
  ring: SRING_HEADER_SIZE,
} as const;

const REQ_PROD = SringOffset.reqProd >>> 2;
const REQ_EVENT = SringOffset.reqEvent >>> 2;
const RSP_PROD = SringOffset.rspProd >>> 2;
const RSP_EVENT = SringOffset.rspEvent >>> 2;

/**
 * Slots in a ring occupying `areaBytes` (header included) with `entryBytes`-byte slots, as
 * `__CONST_RING_SIZE` computes it: what fits, rounded down to a power of two (`__RD32`).
 */
export function ringEntries(areaBytes: number, entryBytes: number): number {
  if (!Number.isInteger(entryBytes) || entryBytes <= 0) {
    throw new RingError('EINVAL', `ring entry size ${entryBytes} is not a positive integer`);
  }
  const fit = Math.floor((areaBytes - SRING_HEADER_SIZE) / entryBytes);
  if (!(fit >= 1)) {
    throw new RingError(
      'EINVAL',
      `a ${areaBytes}-byte ring has no room for a ${entryBytes}-byte entry`,
    );
  }
  return 2 ** (31 - Math.clz32(Math.min(fit, 0xffffffff)));
}

/** Where a ring lives: a buffer, an offset in it, and the area's length (its pages). */
export interface SringPlacement {
  /** Where the shared header starts (default 0; a multiple of 4). */
  readonly byteOffset?: number;
  /** Bytes of the ring area, header included (default one page, 4096). */
  readonly byteLength?: number;
}

/**
 * A ring type, as `DEFINE_RING_TYPES(name, req_t, rsp_t)` makes one: it fixes the slot size,
 * which is the larger of the request and response sizes, and so the slot count for any area.
 *
 * ```ts
 * const blkif = defineRing({ name: 'blkif', requestSize: 112, responseSize: 16 });
 * const front = blkif.initFront(page);              // 32 slots in one page
 * const back = blkif.attachBack(page);              // the other end, same memory
 * ```
 */
export class RingType {
  /** The protocol's name (`blkif`, `netif_tx`, …), which prefixes the ends' error messages. */
  readonly name: string;
  /** `sizeof(union name##_sring_entry)`. */
  readonly entrySize: number;

  constructor(definition: { name: string; requestSize: number; responseSize: number }) {
    const { name, requestSize, responseSize } = definition;
    for (const size of [requestSize, responseSize]) {
      if (!Number.isInteger(size) || size <= 0) {
        throw new RingError('EINVAL', `${name}: entry sizes must be positive integers`);
      }
    }
    this.name = name;
    this.entrySize = Math.max(requestSize, responseSize);
  }

  /** Slots in a ring of `byteLength` bytes (`__CONST_RING_SIZE`). */
  entries(byteLength = XEN_PAGE_SIZE): number {
    return ringEntries(byteLength, this.entrySize);
  }

  /** `XEN_FRONT_RING_INIT`: initialises the shared header, then attaches a frontend at 0. */
  initFront(buffer: RingBuffer, placement: SringPlacement = {}): FrontRing {
    const front = new FrontRing(this, buffer, placement, 0);
    front.initShared();
    return front;
  }

  /** `FRONT_RING_ATTACH`: a frontend on an initialised ring, its private indices at `index`. */
  attachFront(buffer: RingBuffer, placement: SringPlacement = {}, index = 0): FrontRing {
    return new FrontRing(this, buffer, placement, index);
  }

  /** `BACK_RING_ATTACH`: a backend on a ring the frontend initialised, at `index`. */
  attachBack(buffer: RingBuffer, placement: SringPlacement = {}, index = 0): BackRing {
    return new BackRing(this, buffer, placement, index);
  }
}

/** `DEFINE_RING_TYPES`: see {@link RingType}. */
export function defineRing(definition: {
  name: string;
  requestSize: number;
  responseSize: number;
}): RingType {
  return new RingType(definition);
}

/** What both ends share: the area, its slots and the header fields. */
abstract class RingEnd {
  /** Number of slots (`RING_SIZE`). */
  readonly size: number;
  /** Bytes per slot: the larger of the request and response sizes. */
  readonly entrySize: number;
  protected readonly name: string;
  protected readonly bytes: Uint8Array;
  protected readonly words: Uint32Array;
  private readonly mask: number;
  /** One view per slot, made once: handing out a slot must not allocate on the hot path. */
  private readonly slots: Uint8Array[];
  /** Entries known to be published by the peer and not yet taken (see {@link waiting}). */
  private seen = 0;

  constructor(type: RingType, buffer: RingBuffer, placement: SringPlacement, what: string) {
    const byteLength = placement.byteLength ?? XEN_PAGE_SIZE;
    this.name = `${type.name} ${what}`;
    this.size = type.entries(byteLength);
    this.entrySize = type.entrySize;
    this.mask = this.size - 1;
    const area = new RingArea(buffer, placement.byteOffset ?? 0, byteLength, this.name);
    this.bytes = area.bytes;
    this.words = area.words;
    this.slots = Array.from({ length: this.size }, (_, i) => {
      const at = SRING_HEADER_SIZE + i * this.entrySize;
      return area.bytes.subarray(at, at + this.entrySize);
    });
  }

  /** The bytes of slot `index` (masked), aliasing shared memory. */
  slot(index: number): Uint8Array {
    return this.slots[index & this.mask]!;
  }

  /** `req_prod` in shared memory now: what the frontend has published (free-running u32). */
  get reqProd(): number {
    return Atomics.load(this.words, REQ_PROD);
  }
  /** `req_event` in shared memory now: the request index the backend asked to be woken at. */
  get reqEvent(): number {
    return Atomics.load(this.words, REQ_EVENT);
  }
  /** `rsp_prod` in shared memory now: what the backend has published (free-running u32). */
  get rspProd(): number {
    return Atomics.load(this.words, RSP_PROD);
  }
  /** `rsp_event` in shared memory now: the response index the frontend asked to be woken at. */
  get rspEvent(): number {
    return Atomics.load(this.words, RSP_EVENT);
  }

  /**
   * Publishes `next` as the producer index at word `prodWord` and says whether the peer must be
   * notified: whether it asked (through its event index) to hear of an index in `(old, next]`.
   */
  protected publish(prodWord: number, eventWord: number, next: number): boolean {
    const words = this.words;
    const old = Atomics.load(words, prodWord);
    // The store follows the slot writes (`wmb`): the peer never sees an unfilled slot.
    Atomics.store(words, prodWord, next);
    // The event index is loaded after the store (`mb`): a peer re-arming it concurrently either
    // sees the new prod in its final check or is seen here as waiting.
    const event = Atomics.load(words, eventWord);
    return (next - event) >>> 0 < (next - old) >>> 0;
  }

  /**
   * How many of `wanted` entries the peer has published and this end may take now. The
   * producer index is read (and checked) again only when fewer than `wanted` are known to wait,
   * like the `rp = prod; rmb(); while (cons != rp)` loops of Linux's drivers: one index load per
   * batch, not one per entry.
   */
  protected waiting(wanted: number): number {
    if (this.seen < wanted) this.seen = this.unconsumed();
    return Math.min(wanted, this.seen);
  }

  /** Entries published by the peer and not yet consumed here (the subclass's check). */
  protected abstract unconsumed(): number;

  /** Records that `n` entries counted by {@link waiting} were consumed. */
  protected consumed(n: number): void {
    this.seen -= n;
  }

  /** Whole entries `buffer` holds, capped by `count` when given. */
  protected entriesIn(buffer: Uint8Array, count: number | undefined): number {
    const fit = Math.floor(buffer.length / this.entrySize);
    if (count === undefined) return fit;
    if (!Number.isInteger(count) || count < 0) {
      throw new RingError('EINVAL', `${this.name}: ${count} is not a count of entries`);
    }
    return Math.min(fit, count);
  }

  /**
   * Copies `n` entries from slot `from` on into `dst`, in at most two copies (the ring may wrap):
   * the batch form of `RING_COPY_*`, so the peer can no longer change what this end reads.
   * Only entries {@link waiting} counted are copied: the copy follows that `Atomics.load` of the
   * producer index (`rmb`), so it never reads a slot before the peer filled it.
   */
  protected copyOut(from: number, n: number, dst: Uint8Array): void {
    if (n === 0) return;
    const size = this.entrySize;
    const first = Math.min(n, this.size - (from & this.mask));
    const at = SRING_HEADER_SIZE + (from & this.mask) * size;
    dst.set(this.bytes.subarray(at, at + first * size));
    if (first < n) {
      dst.set(
        this.bytes.subarray(SRING_HEADER_SIZE, SRING_HEADER_SIZE + (n - first) * size),
        first * size,
      );
    }
  }

  /**
   * Copies the first `n` entries of `src` into the slots from `to` on, wrapping as needed. Plain
   * stores: {@link publish}'s `Atomics.store` of the producer index comes after them (`wmb`).
   */
  protected copyIn(src: Uint8Array, to: number, n: number): void {
    if (n === 0) return;
    const size = this.entrySize;
    const first = Math.min(n, this.size - (to & this.mask));
    this.bytes.set(src.subarray(0, first * size), SRING_HEADER_SIZE + (to & this.mask) * size);
    if (first < n) this.bytes.set(src.subarray(first * size, n * size), SRING_HEADER_SIZE);
  }

  /** Copies slot `index` into `dst` (or a new array), so the peer can no longer change it. */
  protected copySlot(index: number, dst: Uint8Array | undefined): Uint8Array {
    const src = this.slot(index);
    if (dst === undefined) return src.slice();
    if (dst.length < this.entrySize) {
      throw new RingError(
        'EINVAL',
        `${this.name}: a ${dst.length}-byte buffer cannot hold an entry`,
      );
    }
    dst.set(src);
    return dst;
  }
}

/**
 * The frontend (`struct name##_front_ring`): produces requests, consumes responses.
 *
 * ```ts
 * front.nextRequest().set(request);          // fill the slot in place
 * if (front.pushRequests()) notify();
 * // on notification:
 * do {
 *   for (let rsp; (rsp = front.takeResponse()) !== undefined; ) handle(rsp);
 * } while (front.finalCheckForResponses());
 * ```
 */
export class FrontRing extends RingEnd {
  #reqProdPvt: number;
  #rspCons: number;

  /** @internal use {@link RingType.initFront} or {@link RingType.attachFront}. */
  constructor(type: RingType, buffer: RingBuffer, placement: SringPlacement, index: number) {
    super(type, buffer, placement, 'front ring');
    this.#reqProdPvt = index >>> 0;
    this.#rspCons = index >>> 0;
  }

  /** Responses consumed here (`rsp_cons`). */
  get rspCons(): number {
    return this.#rspCons;
  }

  /** Requests produced here, published or not (`req_prod_pvt`). */
  get reqProdPvt(): number {
    return this.#reqProdPvt;
  }

  /** `SHARED_RING_INIT`: producers 0, event indices 1, private and padding bytes zeroed. */
  initShared(): void {
    this.bytes.fill(0, SringOffset.pvt, SRING_HEADER_SIZE);
    Atomics.store(this.words, REQ_PROD, 0);
    Atomics.store(this.words, RSP_PROD, 0);
    Atomics.store(this.words, REQ_EVENT, 1);
    Atomics.store(this.words, RSP_EVENT, 1);
  }

  /** `RING_FREE_REQUESTS`: slots the frontend may still fill. */
  get freeRequests(): number {
    return this.size - ((this.#reqProdPvt - this.#rspCons) >>> 0);
  }

  /** `RING_FULL`. */
  get full(): boolean {
    return this.freeRequests === 0;
  }

  /**
   * Claims the next request slot (`RING_GET_REQUEST(req_prod_pvt++)`) and returns its bytes to
   * fill in place; {@link pushRequests} publishes it. `ENOSPC` when the ring is full.
   */
  nextRequest(): Uint8Array {
    if (this.full) throw new RingError('ENOSPC', `${this.name}: no free request slot`);
    const slot = this.slot(this.#reqProdPvt);
    this.#reqProdPvt = (this.#reqProdPvt + 1) >>> 0;
    return slot;
  }

  /**
   * Copies the first `count` whole entries of `src` (default: all it holds) into the next free
   * request slots and claims them, as many as are free; returns how many. The batch form of
   * {@link nextRequest}: {@link pushRequests} publishes them all with one index store.
   */
  writeRequests(src: Uint8Array, count?: number): number {
    const n = Math.min(this.entriesIn(src, count), this.freeRequests);
    this.copyIn(src, this.#reqProdPvt, n);
    this.#reqProdPvt = (this.#reqProdPvt + n) >>> 0;
    return n;
  }

  /** `RING_PUSH_REQUESTS_AND_CHECK_NOTIFY`: publishes requests; true if the backend must be notified. */
  pushRequests(): boolean {
    return this.publish(REQ_PROD, REQ_EVENT, this.#reqProdPvt);
  }

  /**
   * `RING_HAS_UNCONSUMED_RESPONSES`: responses published and not yet consumed. Throws
   * {@link RingIndexError} when the backend claims more than the ring holds
   * (`RING_RESPONSE_PROD_OVERFLOW`).
   */
  unconsumedResponses(): number {
    const prod = this.rspProd;
    const n = (prod - this.#rspCons) >>> 0;
    if (n > this.size) throw new RingIndexError(this.name, this.#rspCons, prod, this.size);
    return n;
  }

  /**
   * Consumes the next response, copied out of the ring (`RING_COPY_RESPONSE`) into `dst` when
   * given. Undefined when none is waiting.
   */
  takeResponse(dst?: Uint8Array): Uint8Array | undefined {
    if (this.waiting(1) === 0) return undefined;
    const rsp = this.copySlot(this.#rspCons, dst);
    this.consumed(1);
    this.#rspCons = (this.#rspCons + 1) >>> 0;
    return rsp;
  }

  /**
   * Consumes as many waiting responses as `dst` holds whole entries, copied out of the ring one
   * after another; returns how many (0 when none wait). The batch form of {@link takeResponse}:
   * one look at `rsp_prod` and at most two copies however many entries it takes.
   */
  takeResponses(dst: Uint8Array): number {
    const n = this.waiting(this.entriesIn(dst, undefined));
    this.copyOut(this.#rspCons, n, dst);
    this.consumed(n);
    this.#rspCons = (this.#rspCons + n) >>> 0;
    return n;
  }

  protected unconsumed(): number {
    return this.unconsumedResponses();
  }

  /**
   * `RING_FINAL_CHECK_FOR_RESPONSES`, before going to sleep: if nothing is waiting, asks to be
   * notified of the next response, then looks again, since one may have been published before
   * the request was seen. True when there is work after all.
   */
  finalCheckForResponses(): boolean {
    if (this.unconsumedResponses() > 0) return true;
    Atomics.store(this.words, RSP_EVENT, (this.#rspCons + 1) >>> 0);
    return this.unconsumedResponses() > 0;
  }
}

/** The backend (`struct name##_back_ring`): consumes requests, produces responses. */
export class BackRing extends RingEnd {
  #rspProdPvt: number;
  #reqCons: number;

  /** @internal use {@link RingType.attachBack}. */
  constructor(type: RingType, buffer: RingBuffer, placement: SringPlacement, index: number) {
    super(type, buffer, placement, 'back ring');
    this.#rspProdPvt = index >>> 0;
    this.#reqCons = index >>> 0;
  }

  /** Requests consumed here (`req_cons`). */
  get reqCons(): number {
    return this.#reqCons;
  }

  /** Responses produced here, published or not (`rsp_prod_pvt`). */
  get rspProdPvt(): number {
    return this.#rspProdPvt;
  }

  /**
   * `RING_HAS_UNCONSUMED_REQUESTS`: requests published and not consumed, capped by the slots not
   * awaiting a response. Throws {@link RingIndexError} when the frontend claims more requests
   * than the ring holds (`RING_REQUEST_PROD_OVERFLOW`).
   */
  unconsumedRequests(): number {
    const prod = this.reqProd;
    if (this.requestProdOverflow(prod)) {
      throw new RingIndexError(this.name, this.#rspProdPvt, prod, this.size);
    }
    const req = (prod - this.#reqCons) >>> 0;
    // The cap matters when a frontend moves req_prod backwards below req_cons: req then wraps
    // to ~2^32, and only the count of slots not awaiting a response bounds the damage.
    const room = this.size - ((this.#reqCons - this.#rspProdPvt) >>> 0);
    return Math.min(req, room);
  }

  /** `RING_REQUEST_PROD_OVERFLOW`: could an honest frontend have published `prod`? */
  requestProdOverflow(prod: number): boolean {
    return (prod - this.#rspProdPvt) >>> 0 > this.size;
  }

  /** `RING_REQUEST_CONS_OVERFLOW`: would consuming request `cons` overwrite an unsent response? */
  requestConsOverflow(cons: number): boolean {
    return (cons - this.#rspProdPvt) >>> 0 >= this.size;
  }

  /**
   * Consumes the next request, copied out of the ring (`RING_COPY_REQUEST`) into `dst` when
   * given, so a frontend rewriting the slot cannot change what the backend validated. Undefined
   * when none is waiting.
   */
  takeRequest(dst?: Uint8Array): Uint8Array | undefined {
    if (this.waiting(1) === 0) return undefined;
    const req = this.copySlot(this.#reqCons, dst);
    this.consumed(1);
    this.#reqCons = (this.#reqCons + 1) >>> 0;
    return req;
  }

  /**
   * Consumes as many waiting requests as `dst` holds whole entries, copied out of the ring (so
   * the frontend cannot change them afterwards); returns how many (0 when none wait). The batch
   * form of {@link takeRequest}: one look at `req_prod` and at most two copies.
   */
  takeRequests(dst: Uint8Array): number {
    const n = this.waiting(this.entriesIn(dst, undefined));
    this.copyOut(this.#reqCons, n, dst);
    this.consumed(n);
    this.#reqCons = (this.#reqCons + n) >>> 0;
    return n;
  }

  protected unconsumed(): number {
    return this.unconsumedRequests();
  }

  /**
   * Claims the next response slot (`RING_GET_RESPONSE(rsp_prod_pvt++)`) to fill in place. A
   * response answers a consumed request, so `ENOSPC` once every consumed request is answered.
   */
  nextResponse(): Uint8Array {
    if (this.#rspProdPvt === this.#reqCons) {
      throw new RingError('ENOSPC', `${this.name}: no consumed request left to answer`);
    }
    const slot = this.slot(this.#rspProdPvt);
    this.#rspProdPvt = (this.#rspProdPvt + 1) >>> 0;
    return slot;
  }

  /**
   * Copies the first `count` whole entries of `src` (default: all it holds) into the next
   * response slots, one per consumed request not yet answered; returns how many. The batch form
   * of {@link nextResponse}: {@link pushResponses} publishes them all with one index store.
   */
  writeResponses(src: Uint8Array, count?: number): number {
    const n = Math.min(this.entriesIn(src, count), (this.#reqCons - this.#rspProdPvt) >>> 0);
    this.copyIn(src, this.#rspProdPvt, n);
    this.#rspProdPvt = (this.#rspProdPvt + n) >>> 0;
    return n;
  }

  /** `RING_PUSH_RESPONSES_AND_CHECK_NOTIFY`: publishes responses; true if the frontend must be notified. */
  pushResponses(): boolean {
    return this.publish(RSP_PROD, RSP_EVENT, this.#rspProdPvt);
  }

  /**
   * `RING_FINAL_CHECK_FOR_REQUESTS`, before going to sleep: if nothing is waiting, asks to be
   * notified of the next request, then looks again. True when there is work after all.
   */
  finalCheckForRequests(): boolean {
    if (this.unconsumedRequests() > 0) return true;
    Atomics.store(this.words, REQ_EVENT, (this.#reqCons + 1) >>> 0);
    return this.unconsumedRequests() > 0;
  }
}
