/**
 * One consumer's view of pending ports: an async iterator fed by {@link PortQueue.push}. Ports
 * reported before the consumer asks are buffered, so a burst is never lost between two `next()`.
 */
export class PortQueue implements AsyncIterableIterator<number> {
  readonly #buffered: number[] = [];
  #waiting: { resolve: (r: IteratorResult<number>) => void; reject: (e: Error) => void } | null =
    null;
  #finished = false;
  #error: Error | null = null;

  /** @param onDone - called once when the consumer stops (return, end or failure) */
  constructor(private readonly onDone: () => void) {}

  push(port: number): void {
    if (this.#finished) return;
    if (this.#waiting) {
      const waiter = this.#waiting;
      this.#waiting = null;
      waiter.resolve({ value: port, done: false });
    } else {
      this.#buffered.push(port);
    }
  }

  end(): void {
    this.#finish(null);
  }

  fail(error: Error): void {
    this.#finish(error);
  }

  next(): Promise<IteratorResult<number>> {
    const port = this.#buffered.shift();
    if (port !== undefined) return Promise.resolve({ value: port, done: false });
    if (this.#error) return Promise.reject(this.#error);
    if (this.#finished) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<number>> {
    this.#buffered.length = 0;
    this.#finish(null);
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<number> {
    return this;
  }

  #finish(error: Error | null): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#error = error;
    const waiter = this.#waiting;
    this.#waiting = null;
    if (waiter) {
      if (error) waiter.reject(error);
      else waiter.resolve({ value: undefined, done: true });
    }
    this.onDone();
  }
}
