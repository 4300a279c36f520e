import { RingError } from './errors.ts';

/** The memory a ring lives in: an `ArrayBuffer`, or a `SharedArrayBuffer` seen by both ends. */
export type RingBuffer = ArrayBuffer | SharedArrayBuffer;

/** Xen's page size for ring protocols, whatever the host's (`XEN_PAGE_SIZE`). */
export const XEN_PAGE_SIZE = 4096;

const hostIsLittleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * A shared area seen as bytes and as 32-bit words, both starting at the area's first byte.
 *
 * Index words are only ever touched through `Atomics` on `words`. Two reasons: when the buffer
 * is a `SharedArrayBuffer` (or a page mapped by a native addon), Atomics are sequentially
 * consistent, so each index access is a full barrier — at least the `wmb`/`rmb`/`mb` that
 * `ring.h` and Linux's `xenbus_comms.c` place around them — and the plain byte copies before
 * and after cannot be reordered across it. And the compiler cannot split, merge or re-read an
 * index, which is what the `volatile`-style single reads in the C code guarantee.
 */
export class RingArea {
  /** The whole area as bytes, for the data a ring copies (never for its index words). */
  readonly bytes: Uint8Array;
  /** u32 view for index loads and stores. */
  readonly words: Uint32Array;
  /** The same words as i32, the only type `Atomics.wait`/`Atomics.notify` accept. */
  readonly waitWords: Int32Array;

  /**
   * @param buffer the memory holding the area
   * @param byteOffset where the area starts; a multiple of 4
   * @param byteLength the area's length (default: the rest of the buffer)
   * @param what names the structure in error messages
   */
  constructor(
    buffer: RingBuffer,
    byteOffset: number,
    byteLength: number | undefined,
    what: string,
  ) {
    if (!hostIsLittleEndian) {
      // Uint32Array uses the host's byte order, and Xen's ring words are little-endian.
      throw new RingError('EINVAL', `${what}: Xen rings are little-endian; this host is not`);
    }
    if (!(buffer instanceof ArrayBuffer || isSharedArrayBuffer(buffer))) {
      throw new RingError('EINVAL', `${what}: expected an ArrayBuffer or SharedArrayBuffer`);
    }
    const length = byteLength ?? buffer.byteLength - byteOffset;
    if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % 4 !== 0) {
      throw new RingError('EINVAL', `${what}: byte offset ${byteOffset} is not a multiple of 4`);
    }
    if (!Number.isInteger(length) || length < 0 || byteOffset + length > buffer.byteLength) {
      throw new RingError(
        'EINVAL',
        `${what}: ${length} bytes at ${byteOffset} do not fit a ${buffer.byteLength}-byte buffer`,
      );
    }
    this.bytes = new Uint8Array(buffer, byteOffset, length);
    this.words = new Uint32Array(buffer, byteOffset, length >>> 2);
    this.waitWords = new Int32Array(buffer, byteOffset, length >>> 2);
  }

  /** Throws unless the area holds at least `bytes` bytes. */
  require(bytes: number, what: string): this {
    if (this.bytes.byteLength < bytes) {
      throw new RingError(
        'EINVAL',
        `${what}: needs ${bytes} bytes, the area has ${this.bytes.byteLength}`,
      );
    }
    return this;
  }

  /**
   * Reads the u32 at `offset` (bytes from the area's start, a multiple of 4) as one atomic load,
   * the barrier the C code gets from `rmb`/`mb` around its index reads.
   */
  load(offset: number): number {
    return Atomics.load(this.words, offset >>> 2);
  }

  /**
   * Publishes `value` (truncated to u32) at `offset` (a multiple of 4) as one atomic store, so
   * the peer never sees a torn index or one ahead of the bytes written before it.
   */
  store(offset: number, value: number): void {
    Atomics.store(this.words, offset >>> 2, value >>> 0);
  }
}

function isSharedArrayBuffer(buffer: unknown): buffer is SharedArrayBuffer {
  return typeof SharedArrayBuffer === 'function' && buffer instanceof SharedArrayBuffer;
}
