/**
 * Wakes the other end of a ring. Real peers are signalled through an event channel; between
 * worker threads an {@link AtomicsEvent} does the same job.
 */
export type Notify = () => void;

/**
 * An event-channel look-alike for two threads sharing a `SharedArrayBuffer`: a 32-bit counter
 * that `signal` increments and `wait` sleeps on. Like an event channel's pending bit it
 * remembers a signal sent while nobody waits, so the usual loop cannot lose a wake-up:
 *
 * ```ts
 * for (;;) {
 *   const seen = event.snapshot();
 *   if (ring.read(buf) > 0) { ... continue; }
 *   event.wait(seen);              // returns at once if signalled since the snapshot
 * }
 * ```
 */
export class AtomicsEvent {
  /** `[count, sleepers]`: signals so far, and threads inside `Atomics.wait` on it. */
  private readonly cells: Int32Array;

  /**
   * @param buffer shared memory holding the event's {@link AtomicsEvent.BYTES} bytes
   * @param byteOffset where they start (a multiple of 4)
   */
  constructor(buffer: SharedArrayBuffer, byteOffset = 0) {
    this.cells = new Int32Array(buffer, byteOffset, 2);
  }

  /** Bytes an event occupies. */
  static readonly BYTES = 8;

  /** Marks the event as signalled and wakes the waiter, if one sleeps. */
  signal(): void {
    Atomics.add(this.cells, 0, 1);
    // Atomics.notify takes a lock even with nobody to wake; skip it then. A waiter that has not
    // yet announced itself will find the count changed when it calls Atomics.wait.
    if (Atomics.load(this.cells, 1) > 0) Atomics.notify(this.cells, 0);
  }

  /** The current count, to pass to {@link wait}. */
  snapshot(): number {
    return Atomics.load(this.cells, 0);
  }

  /**
   * Returns once signalled after `seen` was taken, or false after `timeoutMs`. Blocks the
   * calling thread: meant for worker threads, whose event loop has nothing else to do.
   */
  wait(seen: number, timeoutMs = Number.POSITIVE_INFINITY): boolean {
    const cells = this.cells;
    Atomics.add(cells, 1, 1);
    const result = Atomics.wait(cells, 0, seen, timeoutMs);
    Atomics.sub(cells, 1, 1);
    return result !== 'timed-out';
  }
}
