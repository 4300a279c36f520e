/** One queued watch firing. */
export interface QueuedWatchEvent {
  /** The path that changed (relative if the watch was registered relative). */
  readonly path: string;
  /**
   * True when events were dropped just before this one because the queue was full: whatever
   * the watch covers may have changed unseen, so re-read it.
   */
  readonly overflowed: boolean;
}

/**
 * A bounded FIFO of watch firings. When full, a path already waiting in the queue absorbs the
 * new firing (it says nothing the queued one does not); otherwise the oldest entry is dropped and
 * the next one handed out is flagged `overflowed`. Memory stays at `capacity` entries.
 */
export class WatchQueue {
  readonly #capacity: number;
  #items: string[] = [];
  #head = 0;
  readonly #queued = new Map<string, number>();
  #lost = false;
  /** Firings dropped (not coalesced) since the queue was created. */
  dropped = 0;

  constructor(capacity: number) {
    this.#capacity = Math.max(1, capacity);
  }

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(path: string): void {
    if (this.size >= this.#capacity) {
      if (this.#queued.has(path)) return;
      this.#forget(this.#items[this.#head]!);
      this.#advance();
      this.dropped++;
      this.#lost = true;
    }
    this.#items.push(path);
    this.#queued.set(path, (this.#queued.get(path) ?? 0) + 1);
  }

  shift(): QueuedWatchEvent | undefined {
    if (this.size === 0) return undefined;
    const path = this.#items[this.#head]!;
    this.#forget(path);
    this.#advance();
    const overflowed = this.#lost;
    this.#lost = false;
    return { path, overflowed };
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
    this.#queued.clear();
  }

  /** Steps past the head entry, compacting once the spent prefix outweighs the live part. */
  #advance(): void {
    this.#head++;
    if (this.#head >= this.#capacity && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }

  #forget(path: string): void {
    const count = this.#queued.get(path)!;
    if (count === 1) this.#queued.delete(path);
    else this.#queued.set(path, count - 1);
  }
}
