import { performance } from 'node:perf_hooks';
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
 * @category Client
 */
export type BusyPoll = boolean | 'adaptive';

/**
 * What a client or listener does when not told: sleep. Spinning pays only where a woken CPU is
 * slow to come back and the other CPU is idle (the bench's `xenstore.busypoll.*` pairs); with
 * other work on the machine, or one CPU, it gains nothing that holds from run to run and may cost
 * more CPU per op.
 */
export const DEFAULT_BUSY_POLL: BusyPoll = false;

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
 * Spins one thread's event loop while it awaits a single answer, when that is cheaper than
 * sleeping. There is one per thread ({@link busyWaiter}) because spinning is a property of the
 * loop, not of a connection: with several clients in a process, one decision measured over all
 * of them is right where per-client decisions would each see the others' spinning.
 *
 * Adaptive waiters spin only while exactly one answer is awaited in the whole thread: a
 * one-at-a-time conversation, where the wake-up is most of a round trip's cost. With several
 * awaited, answers arrive together and one wake-up serves them all, while a spinner would take
 * CPU time from the peers that are producing them. The policy is fed the same one-at-a-time
 * waits it decides for (see {@link SpinPolicy}).
 */
export class LoopSpinner {
  readonly #policy = new SpinPolicy();
  /** Waiters that may have answers outstanding; ones found with none are dropped. */
  readonly #active = new Set<LoopWaiter>();
  readonly #turn = (): void => this.#spinTurn();
  /** Since when the current wait for an answer has lasted. */
  #waitStart = 0;
  #lastProgress = 0;
  #scheduled = false;
  /** Whether a waiter that always spins awaited answers at the last count. */
  #eagerWaiting = false;

  /** A waiter for this loop; `outstanding` says how many answers it still awaits. */
  waiter(mode: BusyPoll, outstanding: () => number): Waiter {
    return mode === false ? IDLE_WAITER : new LoopWaiter(this, mode === true, outstanding);
  }

  /** Its waiter's report of a request sent (see {@link Waiter.expect}). */
  expected(waiter: LoopWaiter): void {
    const outstanding = waiter.outstanding();
    // Its earlier requests answered or given up, the waiter may be listed from before.
    if (outstanding === 1) this.#active.delete(waiter);
    const listed = this.#active.has(waiter);
    const before = this.#awaited();
    if (!listed) {
      this.#active.add(waiter);
      this.#eagerWaiting ||= waiter.always;
    }
    if (before === 0 && this.#policy.measuring) this.#waitStart = performance.now();
    this.#progress(listed ? before : before + outstanding);
  }

  /** A waiter's report of an answer (see {@link Waiter.arrived}). */
  answered(): void {
    // The clock is read only for a measurement or a spin: reading it can be slow (26 us in a
    // Dom0 under emulation, where it is a system call), and a loop that has settled on
    // sleeping then pays nothing per answer.
    const awaited = this.#awaited();
    if (!this.#policy.measuring) {
      if (awaited === 0) this.#policy.record(0);
    } else if (awaited === 0) {
      this.#policy.record(performance.now() - this.#waitStart);
    } else if (awaited === 1) {
      // The one answer left is awaited alone from now on.
      this.#waitStart = performance.now();
    }
    this.#progress(awaited);
  }

  /** Something came or went, leaving `awaited` answers: a wanted spin has its budget from now. */
  #progress(awaited: number): void {
    if (!this.#wantsSpin(awaited)) return;
    this.#lastProgress = performance.now();
    this.#schedule();
  }

  /**
   * Answers awaited by all waiters, in one walk that also drops the waiters awaiting none and
   * notes whether a waiter that always spins still awaits any.
   */
  #awaited(): number {
    let total = 0;
    let eager = false;
    for (const waiter of this.#active) {
      const outstanding = waiter.outstanding();
      if (outstanding === 0) this.#active.delete(waiter);
      else eager ||= waiter.always;
      total += outstanding;
    }
    this.#eagerWaiting = eager;
    return total;
  }

  #wantsSpin(awaited: number): boolean {
    return this.#eagerWaiting || (this.#policy.spinning && awaited === 1);
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#turn);
  }

  #spinTurn(): void {
    this.#scheduled = false;
    if (performance.now() - this.#lastProgress > SPIN_BUDGET_MS) return;
    if (this.#wantsSpin(this.#awaited())) this.#schedule();
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
    this.loop.answered();
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
