import { SpinPolicy } from './spin-policy.ts';

/**
 * How a waiter spends the time until its peer answers:
 * - `'adaptive'`: spin or sleep, whichever this thread has measured quicker, measured again
 *   every few thousand answers;
 * - `true`: always spin first;
 * - `false`: always sleep in the kernel, the way plain Node I/O does.
 *
 * Spinning keeps the event loop turning (`setImmediate`) instead of blocking in `epoll_wait`,
 * so timers and other I/O still run. It only lasts while answers are outstanding, and gives up
 * after 0.1 ms without an answer.
 */
export type BusyPoll = boolean | 'adaptive';

/** How long a spin goes on without an arrival before the thread sleeps instead. */
export const SPIN_BUDGET_MS = 0.1;

/** One party that expects answers (a client connection, a listener), as its thread sees it. */
export interface Waiter {
  /** A request that expects an answer has gone out (and is counted in `outstanding`). */
  expect(): void;
  /** An answer has come (and is no longer counted in `outstanding`). */
  arrived(): void;
}

/**
 * Spins one thread's event loop while any of its waiters expects answers, when that is cheaper
 * than sleeping. There is one per thread ({@link busyWaiter}) because spinning is a property of
 * the loop, not of a connection: with several clients in a process, one decision measured over
 * all their answers is right where per-client decisions would each see the others' spinning.
 *
 * The cost measured is the gap between answers while any are awaited (see {@link SpinPolicy}).
 */
export class LoopSpinner {
  readonly #policy = new SpinPolicy();
  /** Waiters that may have answers outstanding; ones found with none are dropped. */
  readonly #active = new Set<LoopWaiter>();
  readonly #turn = (): void => this.#spinTurn();
  /** Since when the current gap between answers has lasted. */
  #gapStart = 0;
  #lastProgress = 0;
  #scheduled = false;

  /** A waiter for this loop; `outstanding` says how many answers it still awaits. */
  waiter(mode: BusyPoll, outstanding: () => number): Waiter {
    return mode === false ? IDLE_WAITER : new LoopWaiter(this, mode === true, outstanding);
  }

  expected(waiter: LoopWaiter): void {
    const now = performance.now();
    if (waiter.outstanding() === 1) {
      // The waiter was idle (its earlier requests answered or given up): a new wait may begin.
      this.#active.delete(waiter);
      if (this.#active.size === 0) this.#gapStart = now;
    }
    this.#active.add(waiter);
    this.#lastProgress = now;
    this.#schedule();
  }

  answered(waiter: LoopWaiter): void {
    const now = performance.now();
    this.#policy.record(now - this.#gapStart);
    this.#gapStart = now;
    this.#lastProgress = now;
    if (waiter.outstanding() === 0) this.#active.delete(waiter);
    this.#schedule();
  }

  #wantsSpin(): boolean {
    let any = false;
    for (const waiter of this.#active) {
      if (waiter.outstanding() === 0) this.#active.delete(waiter);
      else if (waiter.always) return true;
      else any = true;
    }
    return any && this.#policy.spinning;
  }

  #schedule(): void {
    if (this.#scheduled || !this.#wantsSpin()) return;
    this.#scheduled = true;
    setImmediate(this.#turn);
  }

  #spinTurn(): void {
    this.#scheduled = false;
    if (performance.now() - this.#lastProgress > SPIN_BUDGET_MS) return;
    this.#schedule();
  }
}

class LoopWaiter implements Waiter {
  constructor(
    readonly loop: LoopSpinner,
    readonly always: boolean,
    readonly outstanding: () => number,
  ) {}

  expect(): void {
    this.loop.expected(this);
  }

  arrived(): void {
    this.loop.answered(this);
  }
}

const IDLE_WAITER: Waiter = { expect() {}, arrived() {} };

let threadSpinner: LoopSpinner | undefined;

/**
 * A waiter on this thread's {@link LoopSpinner} (module state is per thread, so each worker
 * thread has its own). `outstanding` says how many answers the waiter still awaits, so requests
 * given up locally need no report.
 */
export function busyWaiter(mode: BusyPoll, outstanding: () => number): Waiter {
  threadSpinner ??= new LoopSpinner();
  return threadSpinner.waiter(mode, outstanding);
}
