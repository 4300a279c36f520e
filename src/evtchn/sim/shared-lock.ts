/**
 * A mutex in one Int32 word of shared memory, usable from any thread that can see the buffer.
 * It is the classic three-state futex mutex (0 free, 1 held, 2 held with waiters): the fast path
 * is one compare-exchange, and a contended thread sleeps in `Atomics.wait` instead of spinning.
 */
const SPINS_BEFORE_SLEEP = 100;

export class SharedLock {
  constructor(
    private readonly words: Int32Array,
    private readonly index: number,
  ) {}

  lock(): void {
    let state = Atomics.compareExchange(this.words, this.index, 0, 1);
    if (state === 0) return;
    // Critical sections here last well under a microsecond: retrying a little before sleeping
    // avoids a futex sleep and wake-up (tens of microseconds) for a lock that is about to free.
    for (let spin = 0; spin < SPINS_BEFORE_SLEEP && state !== 0; spin++) {
      state = Atomics.compareExchange(this.words, this.index, 0, 1);
    }
    if (state === 0) return;
    if (state !== 2) state = Atomics.exchange(this.words, this.index, 2);
    while (state !== 0) {
      Atomics.wait(this.words, this.index, 2);
      state = Atomics.exchange(this.words, this.index, 2);
    }
  }

  unlock(): void {
    if (Atomics.sub(this.words, this.index, 1) !== 1) {
      Atomics.store(this.words, this.index, 0);
      Atomics.notify(this.words, this.index, 1);
    }
  }
}
