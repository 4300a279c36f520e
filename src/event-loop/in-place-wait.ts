import { performance } from 'node:perf_hooks';
/**
 * How long one wait in place may sleep for the peer's next bytes, in microseconds. A xenstored
 * answers in tens of microseconds; a peer that takes longer is waited for the ordinary way.
 */
export const IN_PLACE_BUDGET_US = 200;

/**
 * Reads one wait in place may make, each of at most {@link IN_PLACE_BUDGET_US}: a reply written
 * in two parts (C xenstored writes the header, then the payload) or behind a watch event needs
 * a second read, rarely a third.
 */
export const IN_PLACE_READS = 3;

/**
 * How long waits in place may follow one another before the event loop gets a turn, in
 * milliseconds: the most a timer or other I/O is held back by a run of them.
 */
export const IN_PLACE_STREAK_MS = 2;

/** Waits in place in a row that get no answer before this thread stops waiting in place. */
const MISSES_TO_PAUSE = 2;

/** Waits refused after a run of misses before one is tried again; doubled while misses go on. */
const FIRST_PAUSE = 256;
const LONGEST_PAUSE = 16384;

/**
 * Decides, for one thread, when a request may wait for its answer in place: blocking the thread
 * in the kernel, without a turn of the event loop, as a C client blocks in `read(2)`. A one-at-a-
 * time round trip then costs a write, a poll and a read, instead of a trip through the event
 * loop's poller, its callback into JavaScript and the stream machinery.
 *
 * Blocking the loop holds back everything else the thread does, so it is bounded three ways:
 * a wait sleeps at most {@link IN_PLACE_BUDGET_US} per read; waits in a row get the loop a turn
 * every {@link IN_PLACE_STREAK_MS} (the next request then takes the ordinary path, and the run
 * starts again once the loop has turned); and a peer that keeps missing the budget is not waited
 * for in place at all for a while (after {@link MISSES_TO_PAUSE} misses in a row, the next
 * 256 waits, doubled up to 16,384 while misses go on, then one is tried again). A server listening
 * in the same thread could never answer a thread blocked in place, so none waits while one is
 * held ({@link hold}).
 */
export class InPlaceWaits {
  /** When the current run of waits began (`performance.now()`); -1 when none runs. */
  #runStart = -1;
  #misses = 0;
  #pause = FIRST_PAUSE;
  /** Waits still to refuse after a run of misses. */
  #refusals = 0;
  #holds = 0;
  readonly #loopTurned = (): void => {
    this.#runStart = -1;
  };

  /**
   * Whether a wait in place may start now. One that starts must be reported with {@link end}
   * when it knows whether the answer came.
   */
  begin(): boolean {
    if (this.#holds > 0) return false;
    if (this.#refusals > 0) {
      this.#refusals--;
      return false;
    }
    const now = performance.now();
    if (this.#runStart < 0) {
      this.#runStart = now;
      setImmediate(this.#loopTurned);
      return true;
    }
    return now - this.#runStart < IN_PLACE_STREAK_MS;
  }

  /** How a wait that {@link begin} allowed ended: whether its answer came in place. */
  end(answered: boolean): void {
    if (answered) {
      this.#misses = 0;
      this.#pause = FIRST_PAUSE;
      return;
    }
    if (++this.#misses < MISSES_TO_PAUSE) return;
    this.#misses = 0;
    this.#refusals = this.#pause;
    this.#pause = Math.min(this.#pause * 2, LONGEST_PAUSE);
  }

  /**
   * No wait in place until the returned release is called: for a server in this thread, which
   * could not answer while the thread is blocked. Holds nest; each release counts once.
   */
  hold(): () => void {
    this.#holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds--;
    };
  }
}

let threadWaits: InPlaceWaits | undefined;

/** This thread's {@link InPlaceWaits} (module state is per thread). */
export function inPlaceWaits(): InPlaceWaits {
  threadWaits ??= new InPlaceWaits();
  return threadWaits;
}
