import { RingError, RingIndexError } from './errors.ts';
import type { RingArea } from './memory.ts';

/** Where one direction of a byte ring lives. Offsets are in bytes from the start of the area. */
export interface ByteRingLayout {
  /** Name used in error messages, e.g. `xenstore.req`. */
  readonly name: string;
  /** Offset of the consumer index (a free-running u32, 4-byte aligned). */
  readonly cons: number;
  /** Offset of the producer index (a free-running u32, 4-byte aligned). */
  readonly prod: number;
  /** Offset of the data (in the data area, which may be the index area itself). */
  readonly data: number;
  /** Length of the data: a power of two. */
  readonly size: number;
}

/**
 * One direction of a byte-stream ring: a power-of-two data area plus free-running u32 producer
 * and consumer indices, the byte at index `i` living at `data + (i & (size - 1))`. This is the
 * xenstore page (`xenstore_domain_interface`), the PV console (`xencons_interface`), libxenvchan
 * and the `DEFINE_XEN_FLEX_RING` rings of pvcalls and 9pfs.
 *
 * The producer calls {@link write}, the consumer {@link read}. Each reads both indices once,
 * refuses a state no honest peer can create (`prod - cons > size`), copies, then publishes its
 * own index with one store, so the peer never sees an index ahead of the data behind it.
 *
 * These rings have no event index, so whether the peer must be woken follows Linux's
 * `xenbus_comms.c`: after a write, if the consumer had already consumed everything written
 * before (it may be asleep waiting for data); after a read, if the ring was full (the producer
 * may be asleep waiting for room). {@link notifyNeeded} reports it for the last call. This holds
 * only if each side sleeps just in those states: a producer writes what fits and waits only
 * when `write` returned 0, a consumer waits only when `read` returned 0.
 */
export class ByteRing {
  /** The layout's name, used to say which ring an error came from. */
  readonly name: string;
  /** Capacity of the data area in bytes (a power of two). */
  readonly size: number;
  private lastNotifyNeeded = false;
  private readonly words: Uint32Array;
  private readonly data: Uint8Array;
  private readonly mask: number;
  private readonly consWord: number;
  private readonly prodWord: number;

  /**
   * @param indices the area holding the two index words
   * @param layout where the indices and data are
   * @param data the area holding the data, when it is not `indices` (flex rings keep their data
   *   in separately granted pages)
   */
  constructor(indices: RingArea, layout: ByteRingLayout, data: RingArea = indices) {
    const { name, cons, prod, size } = layout;
    if (!Number.isInteger(size) || size <= 0 || (size & (size - 1)) !== 0 || size > 2 ** 31) {
      throw new RingError('EINVAL', `${name}: ring size ${size} is not a power of two`);
    }
    if (cons % 4 !== 0 || prod % 4 !== 0) {
      throw new RingError('EINVAL', `${name}: index offsets must be multiples of 4`);
    }
    indices.require(Math.max(cons, prod) + 4, name);
    data.require(layout.data + size, name);
    this.name = name;
    this.size = size;
    this.words = indices.words;
    this.data = data.bytes.subarray(layout.data, layout.data + size);
    this.mask = size - 1;
    this.consWord = cons >>> 2;
    this.prodWord = prod >>> 2;
  }

  /** Whether the last {@link write} or {@link read} requires notifying the peer. */
  get notifyNeeded(): boolean {
    return this.lastNotifyNeeded;
  }

  /** The consumer index in shared memory now. */
  get cons(): number {
    return Atomics.load(this.words, this.consWord);
  }

  /** The producer index in shared memory now. */
  get prod(): number {
    return Atomics.load(this.words, this.prodWord);
  }

  /** Bytes written and not yet read. Throws {@link RingIndexError} on corrupt indices. */
  used(): number {
    return this.check(this.cons, this.prod);
  }

  /** Bytes that can be written now. Throws {@link RingIndexError} on corrupt indices. */
  free(): number {
    return this.size - this.used();
  }

  /**
   * Producer: copies as much of `src` as fits and publishes it. Returns the number of bytes
   * written, 0 when the ring is full. Throws {@link RingIndexError}, before writing anything,
   * when the indices are corrupt.
   */
  write(src: Uint8Array): number {
    const words = this.words;
    const cons = Atomics.load(words, this.consWord);
    const prod = Atomics.load(words, this.prodWord);
    const n = Math.min(this.size - this.check(cons, prod), src.length);
    this.lastNotifyNeeded = false;
    if (n === 0) return 0;
    // The data is copied only after cons was loaded (`mb` in xb_write): a slot is reused only
    // once the consumer has published that it is done with it.
    const at = prod & this.mask;
    const first = Math.min(n, this.size - at);
    this.data.set(first === src.length ? src : src.subarray(0, first), at);
    if (n > first) this.data.set(src.subarray(first, n), 0);
    // Publishing prod after the copy (`wmb`) means the consumer never sees unwritten bytes.
    const next = (prod + n) >>> 0;
    Atomics.store(words, this.prodWord, next);
    // cons is re-read after the store (`mb`), so a consumer going to sleep either saw our data
    // or is seen here as having caught up with the old prod.
    const seen = Atomics.load(words, this.consWord);
    this.lastNotifyNeeded = (next - seen) >>> 0 <= n;
    return n;
  }

  /**
   * Consumer: copies up to `dst.length` waiting bytes into `dst` and releases them to the
   * producer. Returns the number of bytes read, 0 when the ring is empty. Throws
   * {@link RingIndexError}, before reading anything, when the indices are corrupt.
   */
  read(dst: Uint8Array): number {
    const words = this.words;
    const cons = Atomics.load(words, this.consWord);
    const n = this.copyOut(cons, dst);
    this.lastNotifyNeeded = false;
    if (n === 0) return 0;
    // Only after the copy (`mb`) may the producer learn it can overwrite these bytes.
    Atomics.store(words, this.consWord, (cons + n) >>> 0);
    // prod is re-read after the store: a producer that filled the ring and went to sleep is
    // seen here as a full ring from the old cons.
    this.lastNotifyNeeded = (Atomics.load(words, this.prodWord) - cons) >>> 0 >= this.size;
    return n;
  }

  /**
   * Consumer: copies up to `dst.length` waiting bytes into `dst` without consuming them (to look
   * at a message header before deciding how much to read). Returns the number of bytes copied.
   */
  peek(dst: Uint8Array): number {
    return this.copyOut(Atomics.load(this.words, this.consWord), dst);
  }

  /**
   * Sets both indices to `index` (default 0), emptying the ring. Only for the end that owns the
   * ring's set-up (the xenstore server completing a reconnection), while the peer is idle.
   */
  reset(index = 0): void {
    Atomics.store(this.words, this.consWord, index >>> 0);
    Atomics.store(this.words, this.prodWord, index >>> 0);
  }

  private copyOut(cons: number, dst: Uint8Array): number {
    // prod is loaded before the data is read (`rmb` in xb_read): bytes below prod are complete.
    const prod = Atomics.load(this.words, this.prodWord);
    const n = Math.min(this.check(cons, prod), dst.length);
    const at = cons & this.mask;
    const first = Math.min(n, this.size - at);
    dst.set(this.data.subarray(at, at + first), 0);
    if (n > first) dst.set(this.data.subarray(0, n - first), first);
    return n;
  }

  private check(cons: number, prod: number): number {
    const used = (prod - cons) >>> 0;
    if (used > this.size) throw new RingIndexError(this.name, cons, prod, this.size);
    return used;
  }
}
