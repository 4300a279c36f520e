import { SpinPolicy } from './spin-policy.ts';

/**
 * How a waiter spends the time until its peer answers:
 * - `'adaptive'`: spin or sleep, whichever this process has measured quicker, measured again
 *   every few thousand answers;
 * - `true`: always spin first;
 * - `false`: always sleep in the kernel, the way plain Node I/O does.
 *
 * Spinning keeps the event loop turning (`setImmediate`) instead of blocking in `epoll_wait`,
 * so timers and other I/O still run. It only lasts while answers are outstanding, and gives up
 * after 0.1 ms without an answer.
 */
export type BusyPoll = boolean | 'adaptive';

/** How long a spin goes on without an arrival before the waiter sleeps instead. */
export const SPIN_BUDGET_MS = 0.1;

/**
 * Keeps one waiter's event loop busy while it expects answers, when that is cheaper than
 * sleeping. The owner reports each request that expects an answer ({@link expect}) and each
 * answer ({@link arrived}); `outstanding` says how many are still awaited, so requests given up
 * locally need no report.
 */
export class BusyPoller {
  readonly #policy: SpinPolicy | undefined;
  readonly #always: boolean;
  readonly #outstanding: () => number;
  readonly #turn = (): void => this.#spinTurn();
  /** Since when the current gap between arrivals has lasted. */
  #gapStart = 0;
  #lastProgress = 0;
  #scheduled = false;

  constructor(mode: BusyPoll, outstanding: () => number) {
    this.#policy = mode === 'adaptive' ? new SpinPolicy() : undefined;
    this.#always = mode === true;
    this.#outstanding = outstanding;
  }

  /** A request that expects an answer has gone out (and is counted in `outstanding`). */
  expect(): void {
    if (!this.#policy && !this.#always) return;
    const now = performance.now();
    if (this.#outstanding() === 1) this.#gapStart = now;
    this.#lastProgress = now;
    this.#schedule();
  }

  /** An answer has come (and is no longer counted in `outstanding`). */
  arrived(): void {
    if (!this.#policy && !this.#always) return;
    const now = performance.now();
    this.#policy?.record(now - this.#gapStart);
    this.#gapStart = now;
    this.#lastProgress = now;
    if (this.#outstanding() > 0) this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    if (this.#policy && !this.#policy.spinning) return;
    this.#scheduled = true;
    setImmediate(this.#turn);
  }

  #spinTurn(): void {
    this.#scheduled = false;
    if (this.#outstanding() === 0) return;
    if (this.#policy && !this.#policy.spinning) return;
    if (performance.now() - this.#lastProgress > SPIN_BUDGET_MS) return;
    this.#schedule();
  }
}
