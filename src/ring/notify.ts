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
  private readonly cell: Int32Array;

  /** @param buffer shared memory holding the counter, at `byteOffset` (a multiple of 4). */
  constructor(buffer: SharedArrayBuffer, byteOffset = 0) {
    this.cell = new Int32Array(buffer, byteOffset, 1);
  }

  /** Bytes an event occupies. */
  static readonly BYTES = 4;

  /** Wakes the waiter (if any) and marks the event as signalled. */
  signal(): void {
    Atomics.add(this.cell, 0, 1);
    Atomics.notify(this.cell, 0);
  }

  /** The current count, to pass to {@link wait}. */
  snapshot(): number {
    return Atomics.load(this.cell, 0);
  }

  /**
   * Sleeps until signalled after `seen` was taken, or `timeoutMs` passed. Returns false on
   * timeout. Blocks the thread, so only for workers (the main thread may not `Atomics.wait`).
   */
  wait(seen: number, timeoutMs = Number.POSITIVE_INFINITY): boolean {
    return Atomics.wait(this.cell, 0, seen, timeoutMs) !== 'timed-out';
  }
}
