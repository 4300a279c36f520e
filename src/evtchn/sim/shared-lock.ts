import { threadId } from 'node:worker_threads';
import { whenChanged } from './wait-async.ts';

/**
 * A thread's mark in a held lock word. Thread ids are unique within the process, which is as far
 * as a `SharedArrayBuffer` reaches; the low bit is left for {@link WAITERS}.
 */
const markOf = (thread: number): number => (thread + 1) * 2;
const SELF = markOf(threadId);
/** Set in a held lock word when some thread may be asleep waiting for it. */
const WAITERS = 1;
const SPINS_BEFORE_SLEEP = 100;

/**
 * A mutex in one Int32 word of shared memory, usable from any thread that can see the buffer.
 * It is a futex mutex whose held word names the holding thread: the fast path is one
 * compare-exchange, and a contended thread sleeps in `Atomics.wait` instead of spinning.
 *
 * Naming the holder is what lets a thread be stopped safely ({@link stopThread}): a second word,
 * the stop word, names a thread that must not begin another critical section. A thread checks it
 * right after taking the lock and a stopper checks the lock right after naming its target, so with
 * sequentially consistent atomics one of the two always sees the other (Dekker's handshake). The
 * target may still be ended in the instant it holds the lock to give it back; the stopper frees it
 * then, the mark in the word saying whose it was.
 */
export class SharedLock {
  constructor(
    private readonly words: Int32Array,
    private readonly index: number,
    private readonly stopIndex: number,
  ) {}

  lock(): void {
    for (;;) {
      this.#acquire();
      if (Atomics.load(this.words, this.stopIndex) !== SELF) return;
      // This thread is being stopped: it gives the lock back untouched and waits for its end.
      this.unlock();
      Atomics.wait(this.words, this.stopIndex, SELF);
    }
  }

  unlock(): void {
    if (Atomics.exchange(this.words, this.index, 0) & WAITERS) {
      Atomics.notify(this.words, this.index, 1);
    }
  }

  /**
   * Ends thread `thread` (through `stop`, typically `worker.terminate()`) at a point where it is in
   * no critical section and will begin none: a thread ended inside one would leave the lock held
   * and every other thread waiting for good. One stop at a time per lock.
   */
  async stopThread<T>(thread: number, stop: () => Promise<T>): Promise<T> {
    const w = this.words;
    const mark = markOf(thread);
    for (;;) {
      const other = Atomics.compareExchange(w, this.stopIndex, 0, mark);
      if (other === 0) break;
      await new Promise<void>((resolve) => whenChanged(w, this.stopIndex, other, resolve));
    }
    try {
      // Critical sections are a few hundred nanoseconds and never wait: the target is done with
      // its current one almost at once.
      for (let held = Atomics.load(w, this.index); (held & ~WAITERS) === mark; ) {
        Atomics.wait(w, this.index, held, 1);
        held = Atomics.load(w, this.index);
      }
      const result = await stop();
      this.#takeBackFrom(mark);
      return result;
    } finally {
      Atomics.store(w, this.stopIndex, 0);
      Atomics.notify(w, this.stopIndex);
    }
  }

  /**
   * After the thread marked `mark` has ended: from here on it could only take the lock to see
   * the stop word and give it back, and it may have ended between the two, or between giving it
   * back and waking a waiter. Neither leaves anything half done, so the lock is freed and every
   * waiter woken (each looks again).
   */
  #takeBackFrom(mark: number): void {
    const w = this.words;
    for (let held = Atomics.load(w, this.index); (held & ~WAITERS) === mark; ) {
      const seen = Atomics.compareExchange(w, this.index, held, 0);
      if (seen === held) break;
      held = seen;
    }
    Atomics.notify(w, this.index);
  }

  #acquire(): void {
    const w = this.words;
    let held = Atomics.compareExchange(w, this.index, 0, SELF);
    if (held === 0) return;
    // Critical sections here last well under a microsecond: retrying a little before sleeping
    // avoids a futex sleep and wake-up (tens of microseconds) for a lock that is about to free.
    for (let spin = 0; spin < SPINS_BEFORE_SLEEP && held !== 0; spin++) {
      held = Atomics.compareExchange(w, this.index, 0, SELF);
    }
    if (held === 0) return;
    for (;;) {
      if (held === 0) {
        // Taken with the waiters bit: others may still sleep, and the unlock must wake them.
        held = Atomics.compareExchange(w, this.index, 0, SELF | WAITERS);
        if (held === 0) return;
      } else if (!(held & WAITERS)) {
        const seen = Atomics.compareExchange(w, this.index, held, held | WAITERS);
        held = seen === held ? held | WAITERS : seen;
      } else {
        Atomics.wait(w, this.index, held);
        held = Atomics.load(w, this.index);
      }
    }
  }
}
