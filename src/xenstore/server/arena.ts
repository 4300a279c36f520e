/*
 * Many variable-sized blocks in a few large byte buffers, so that a million small values cost
 * their bytes and not a million objects. Block sizes are rounded up to size classes (8-byte steps
 * up to 128 bytes, then four steps per power of two: at most a quarter wasted), and a freed block
 * goes on its class's free list, threaded through the freed bytes themselves, for the next block of
 * that class. The buffers are fixed-size pages that are never grown or freed: one buffer that
 * doubles leaves each smaller copy to the C allocator, which keeps much of it resident. A block
 * larger than a page gets pages of its own. What the free lists cannot reuse is given back by
 * compaction, which only the arena's owner can do (it alone knows where the live blocks are): it
 * copies them into a fresh arena with {@link Arena.move}.
 *
 * A block is named by its offset: page number × page size + position in the page.
 */

const SMALL_LIMIT = 128;
const SMALL_CLASSES = SMALL_LIMIT >> 3;

/** Page size as a shift: 256 KiB. */
export const PAGE_SHIFT = 18;
const PAGE_SIZE = 1 << PAGE_SHIFT;
/** A block's position in its page: `offset & PAGE_MASK`. */
export const PAGE_MASK = PAGE_SIZE - 1;
/** Offsets are positive 32-bit integers: at most this many pages (2 GiB). */
const MAX_PAGES = 2 ** (31 - PAGE_SHIFT);

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

const NO_PAGE = new Uint8Array(0);

/** Blocks in fixed-size pages, with per-size-class free lists. */
export class Arena {
  /** By page number; a block's bytes are `pages[offset >>> PAGE_SHIFT]` from its position. */
  readonly pages: Uint8Array[] = [];
  /** The same pages as 32-bit words (blocks are 8-byte aligned). */
  readonly words: Uint32Array[] = [];
  /** Next free position in the last small-block page (PAGE_SIZE: none yet). */
  #top = PAGE_SIZE;
  #current = -1;
  #used = 0;
  /** Per class, the offset of the first free block plus one (0: none). */
  readonly #free: number[] = [];
  #freeBytes = 0;

  /** Bytes of all blocks handed out, free ones included. */
  get used(): number {
    return this.#used;
  }

  /** Bytes of freed blocks not reused yet. */
  get freeBytes(): number {
    return this.#freeBytes;
  }

  /** The offset of a new block for `size` bytes (size > 0); its contents are undefined. */
  allocate(size: number): number {
    const kind = classOf(size);
    const bytes = blockSize(size);
    const head = this.#free[kind];
    if (head) {
      const offset = head - 1;
      this.#free[kind] = this.words[offset >>> PAGE_SHIFT]![(offset & PAGE_MASK) >> 2]!;
      this.#freeBytes -= bytes;
      return offset;
    }
    this.#used += bytes;
    if (bytes > PAGE_SIZE) return this.#addPages(bytes);
    if (this.#top + bytes > PAGE_SIZE) {
      this.#current = this.#addPages(PAGE_SIZE) >>> PAGE_SHIFT;
      this.#top = 0;
    }
    const offset = this.#current * PAGE_SIZE + this.#top;
    this.#top += bytes;
    return offset;
  }

  /** Gives back the block at `offset` allocated for `size` bytes. */
  release(offset: number, size: number): void {
    const kind = classOf(size);
    this.words[offset >>> PAGE_SHIFT]![(offset & PAGE_MASK) >> 2] = this.#free[kind] ?? 0;
    this.#free[kind] = offset + 1;
    this.#freeBytes += blockSize(size);
  }

  /** Copies the `size`-byte block at `offset` of `from` into a new block here; its offset. */
  move(from: Arena, offset: number, size: number): number {
    const to = this.allocate(size);
    const at = offset & PAGE_MASK;
    this.pages[to >>> PAGE_SHIFT]!.set(
      from.pages[offset >>> PAGE_SHIFT]!.subarray(at, at + size),
      to & PAGE_MASK,
    );
    return to;
  }

  /** A buffer of `bytes` under as many page numbers as it spans; the offset of its start. */
  #addPages(bytes: number): number {
    const first = this.pages.length;
    const count = Math.ceil(bytes / PAGE_SIZE);
    if (first + count > MAX_PAGES) throw new RangeError('store arena is full');
    const page = new Uint8Array(bytes);
    const words = new Uint32Array(page.buffer);
    this.pages.push(page);
    this.words.push(words);
    // The numbers a large block's bytes span name no block of their own.
    for (let i = 1; i < count; i++) {
      this.pages.push(NO_PAGE);
      this.words.push(new Uint32Array(0));
    }
    return first * PAGE_SIZE;
  }
}
