/**
 * Wakes the other end of a ring. Real peers are signalled through an event channel; between
 * worker threads an {@link AtomicsEvent} does the same job.
 */
export type Notify = () => void;

/**
 * A kernel futex on an `Int32Array` element, for {@link AtomicsEvent} to sleep on instead of
 * `Atomics.wait`: the native addon's `futexWait`/`futexWake` (`loadNative()` of
 * `xenwire/evtchn`) fit. V8 emulates `Atomics.wait` with a process-wide lock and a condition
 * variable per waiter, which about doubles what a wake-up between two threads costs.
 */
export interface Futex {
  /** Sleeps while `words[index]` holds `value`, at most `timeoutMs`; may return early. */
  futexWait(
    words: Int32Array,
    index: number,
    value: number,
    timeoutMs: number,
  ): 'ok' | 'not-equal' | 'timed-out';
  /** Wakes every thread asleep in {@link futexWait} on `words[index]`. */
  futexWake(words: Int32Array, index: number): number;
}

/** The sleepers word counts `Atomics.wait` sleepers in its low half, futex sleepers above. */
const ATOMICS_SLEEPER = 1;
const FUTEX_SLEEPER = 0x10000;
/**
 * Longest single futex sleep: `worker.terminate()` interrupts `Atomics.wait` but not a thread
 * inside a system call, and a futex sleeper signalled by an end without the futex (so only
 * through `Atomics.notify`, which cannot reach it) notices the signal after at most this long.
 */
const FUTEX_SLICE_MS = 500;

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
  /** `[count, sleepers]`: signals so far, and threads asleep on it (see `FUTEX_SLEEPER`). */
  private readonly cells: Int32Array;

  /**
   * @param buffer shared memory holding the event's {@link AtomicsEvent.BYTES} bytes
   * @param byteOffset where they start (a multiple of 4)
   * @param futex sleep and wake through this instead of `Atomics.wait`/`Atomics.notify`; give it
   *   to every end that signals this event, since only it wakes a thread asleep on it
   */
  constructor(
    buffer: SharedArrayBuffer,
    byteOffset = 0,
    private readonly futex?: Futex,
  ) {
    this.cells = new Int32Array(buffer, byteOffset, 2);
  }

  /** Bytes an event occupies. */
  static readonly BYTES = 8;

  /** Marks the event as signalled and wakes the waiter, if one sleeps. */
  signal(): void {
    const cells = this.cells;
    Atomics.add(cells, 0, 1);
    // Atomics.notify takes a lock even with nobody to wake, and futexWake is a system call; skip
    // them then. A waiter that has not yet announced itself will find the count changed when it
    // goes to sleep.
    const sleepers = Atomics.load(cells, 1);
    if (sleepers === 0) return;
    if ((sleepers & (FUTEX_SLEEPER - 1)) !== 0) Atomics.notify(cells, 0);
    if (sleepers >= FUTEX_SLEEPER) this.futex?.futexWake(cells, 0);
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
    const futex = this.futex;
    if (futex === undefined) {
      Atomics.add(cells, 1, ATOMICS_SLEEPER);
      const result = Atomics.wait(cells, 0, seen, timeoutMs);
      Atomics.sub(cells, 1, ATOMICS_SLEEPER);
      return result !== 'timed-out';
    }
    const forever = timeoutMs === Number.POSITIVE_INFINITY;
    const deadline = forever ? 0 : performance.now() + timeoutMs;
    Atomics.add(cells, 1, FUTEX_SLEEPER);
    try {
      // A futex may wake spuriously (a signal to the thread): only a changed count ends the wait.
      for (;;) {
        if (Atomics.load(cells, 0) !== seen) return true;
        const left = forever ? FUTEX_SLICE_MS : deadline - performance.now();
        if (left <= 0) return false;
        futex.futexWait(cells, 0, seen, Math.min(left, FUTEX_SLICE_MS));
      }
    } finally {
      Atomics.sub(cells, 1, FUTEX_SLEEPER);
    }
  }
}
