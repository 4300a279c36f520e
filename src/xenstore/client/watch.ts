import { EventEmitter } from 'node:events';
import { emitDetached } from './emit-detached.ts';
import { WatchQueue } from './watch-queue.ts';

/**
 * A watch firing as the caller sees it.
 * @category Client
 */
export interface XenstoreWatchEvent {
  /** The node that changed, or the watch path itself for the registration event. */
  readonly path: string;
  /** The watch's token (unique per watch on its client). */
  readonly token: string;
  /** True when earlier firings were dropped because the queue was full: re-read what you watch. */
  readonly overflowed: boolean;
}

/**
 * Events of a {@link Watch} in its event-emitter form.
 * @category Client
 */
export interface WatchEvents {
  /** A firing of the watch, in order; listening for it consumes the queue. */
  event: [XenstoreWatchEvent];
  /** The watch ended: after `close()` (no error) or because the connection was lost. */
  close: [Error | undefined];
}

type Waiter = {
  resolve(result: IteratorResult<XenstoreWatchEvent>): void;
  reject(error: Error): void;
};

/**
 * A registered watch: an async iterable of its firings and an event emitter (`'event'`,
 * `'close'`).
 *
 * Each firing goes to exactly one consumer: a pending `next()` of an iterator, else the `'event'`
 * listeners, else the queue, which is handed to whichever comes first. The queue is bounded (the
 * client's `watchQueueCapacity`, or the watch's `queueCapacity`): once full, firings for paths already queued are absorbed, then the oldest
 * are dropped and the next event delivered carries `overflowed: true`.
 *
 * The server fires every new watch once for its own path: expect that registration event first.
 * Once {@link close} has resolved, no firing of this watch reaches the caller. If the connection
 * is lost (and not re-established), iterators first drain what is queued, then throw the
 * `ECONNRESET` error.
 * @category Client
 */
export class Watch extends EventEmitter<WatchEvents> implements AsyncIterable<XenstoreWatchEvent> {
  /** The path as given to `watch()`. */
  readonly path: string;
  /** The token this client sent with WATCH. */
  readonly token: string;
  readonly #queue: WatchQueue;
  readonly #stop: (watch: Watch) => Promise<void>;
  readonly #waiters: Waiter[] = [];
  #ended = false;
  #failure: Error | undefined;

  /** @internal Created by `XenstoreClient.watch`. */
  constructor(
    path: string,
    token: string,
    capacity: number,
    stop: (watch: Watch) => Promise<void>,
  ) {
    super();
    this.path = path;
    this.token = token;
    this.#queue = new WatchQueue(capacity);
    this.#stop = stop;
    // Hand queued firings (e.g. the registration event) to the first 'event' listener.
    (this as EventEmitter).on('newListener', (name) => {
      if (name === 'event') queueMicrotask(() => this.#drainToListeners());
    });
  }

  /** False once the watch has ended. */
  get active(): boolean {
    return !this.#ended;
  }

  /** Firings dropped because the queue was full. */
  get dropped(): number {
    return this.#queue.dropped;
  }

  /** Firings waiting to be consumed. */
  get queued(): number {
    return this.#queue.size;
  }

  /** Removes the watch from the server (UNWATCH); pending and later firings are discarded. */
  close(): Promise<void> {
    return this.#stop(this);
  }

  /** Closes the watch (`await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** @internal A firing for this watch arrived. */
  deliver(path: string): void {
    if (this.#ended) return;
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter.resolve({ value: { path, token: this.token, overflowed: false }, done: false });
    } else if (this.#queue.size === 0 && this.listenerCount('event') > 0) {
      emitDetached(this, 'event', { path, token: this.token, overflowed: false });
    } else {
      this.#queue.push(path);
    }
  }

  /**
   * @internal The watch is over. Without `error` (stopped on purpose) queued firings are
   * discarded; with one (connection lost) iterators drain the queue, then throw it.
   */
  finish(error?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    if (!error) this.#queue.clear();
    // Waiters only ever wait on an empty queue: hand them the end now, or keep it for next().
    const waiters = this.#waiters.splice(0);
    if (waiters.length === 0) this.#failure = error;
    for (const waiter of waiters) {
      if (error) waiter.reject(error);
      else waiter.resolve({ value: undefined, done: true });
    }
    emitDetached(this, 'close', error);
  }

  /** The firings, in order, until the watch ends; leaving a `for await` early closes it. */
  [Symbol.asyncIterator](): AsyncIterator<XenstoreWatchEvent> {
    return {
      next: () => this.#next(),
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }

  #next(): Promise<IteratorResult<XenstoreWatchEvent>> {
    const event = this.#take();
    if (event) return Promise.resolve({ value: event, done: false });
    if (this.#ended) {
      const failure = this.#failure;
      this.#failure = undefined;
      return failure ? Promise.reject(failure) : Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  #take(): XenstoreWatchEvent | undefined {
    const queued = this.#queue.shift();
    return queued && { path: queued.path, token: this.token, overflowed: queued.overflowed };
  }

  #drainToListeners(): void {
    while (this.listenerCount('event') > 0) {
      const event = this.#take();
      if (!event) return;
      emitDetached(this, 'event', event);
    }
  }
}
