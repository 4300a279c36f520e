/*
 * One growable byte buffer holding many variable-sized blocks, so that a million small values
 * cost their bytes and not a million objects. Block sizes are rounded up to size classes (8-byte
 * steps up to 128 bytes, then four steps per power of two: at most a quarter wasted), and a freed
 * block goes on its class's free list, threaded through the freed bytes themselves, for the next
 * block of that class. What the free lists cannot reuse is given back by compaction, which only
 * the arena's owner can do (it alone knows where the live blocks are): it copies them into a
 * fresh arena with {@link Arena.move}.
 */

const SMALL_LIMIT = 128;
const SMALL_CLASSES = SMALL_LIMIT >> 3;

/** Bytes a block of `size` bytes occupies (0 for none). */
export function blockSize(size: number): number {
  if (size <= SMALL_LIMIT) return (size + 7) & ~7;
  const shift = 29 - Math.clz32(size - 1);
  return (((size - 1) >>> shift) + 1) * (1 << shift);
}

function classOf(size: number): number {
  if (size <= SMALL_LIMIT) return (size + 7) >> 3;
  const shift = 29 - Math.clz32(size - 1);
  // (size - 1) >>> shift is 4..7: four classes per power of two.
  return SMALL_CLASSES + (shift - 5) * 4 + ((size - 1) >>> shift) - 3;
}

/** Largest block: offsets are 32-bit. */
const MAX_BLOCK = 2 ** 31;

/** A byte buffer of blocks with per-size-class free lists. */
export class Arena {
  /** The blocks' bytes; replaced (not resized) when the arena grows, so never keep it. */
  bytes: Uint8Array;
  /** The same bytes as 32-bit words (blocks are 8-byte aligned); replaced alongside `bytes`. */
  words: Uint32Array;
  #top = 0;
  /** Per class, the offset of the first free block plus one (0: none). */
  readonly #free: number[] = [];
  #freeBytes = 0;

  constructor(capacity = 4096) {
    this.bytes = new Uint8Array(Math.max(8, capacity));
    this.words = new Uint32Array(this.bytes.buffer);
  }

  /** Bytes handed out or on free lists: the arena's high-water mark. */
  get used(): number {
    return this.#top;
  }

  /** Bytes of freed blocks not reused yet. */
  get freeBytes(): number {
    return this.#freeBytes;
  }

  /** The offset of a new block for `size` bytes (size > 0); its contents are undefined. */
  allocate(size: number): number {
    if (size > MAX_BLOCK) throw new RangeError(`block of ${size} bytes is too large`);
    const kind = classOf(size);
    const head = this.#free[kind];
    if (head) {
      const offset = head - 1;
      this.#free[kind] = this.words[offset >> 2]!;
      this.#freeBytes -= blockSize(size);
      return offset;
    }
    const offset = this.#top;
    const end = offset + blockSize(size);
    if (end > this.bytes.length) this.#grow(end);
    this.#top = end;
    return offset;
  }

  /** Gives back the block at `offset` allocated for `size` bytes. */
  release(offset: number, size: number): void {
    const kind = classOf(size);
    this.words[offset >> 2] = this.#free[kind] ?? 0;
    this.#free[kind] = offset + 1;
    this.#freeBytes += blockSize(size);
  }

  /** Copies the `size`-byte block at `offset` of `from` into a new block here; its offset. */
  move(from: Arena, offset: number, size: number): number {
    const to = this.allocate(size);
    this.bytes.set(from.bytes.subarray(offset, offset + size), to);
    return to;
  }

  #grow(end: number): void {
    let capacity = this.bytes.length * 2;
    while (capacity < end) capacity *= 2;
    const bytes = new Uint8Array(capacity);
    bytes.set(this.bytes.subarray(0, this.#top));
    this.bytes = bytes;
    this.words = new Uint32Array(bytes.buffer);
  }
}
