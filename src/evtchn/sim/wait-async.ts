/** Result of `Atomics.waitAsync` (ES2024; missing from the ES2023 library typings used here). */
type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };

const atomics = Atomics as unknown as {
  waitAsync(words: Int32Array, index: number, value: number, timeoutMs?: number): WaitAsyncResult;
};

/**
 * Calls `then` once `words[index]` is notified, or in a microtask if it no longer holds `value`.
 * Lets the main thread sleep on shared memory without blocking its event loop; a callback rather
 * than an async function, so that a sleeper holds no suspended frame (a host has thousands).
 */
export function whenChanged(
  words: Int32Array,
  index: number,
  value: number,
  then: () => void,
): void {
  const result = atomics.waitAsync(words, index, value);
  if (result.async) result.value.then(then);
  else queueMicrotask(then);
}

let keepAliveHolders = 0;
let keepAliveTimer: ReturnType<typeof setInterval> | undefined;

/** Period of the keep-alive timer: it exists to be pending, and practically never fires. */
const KEEP_ALIVE_PERIOD_MS = 2 ** 30;

/**
 * A pending `Atomics.waitAsync` does not keep a thread's event loop alive, so while anyone
 * sleeps on shared memory one idle timer of the thread does, as an open device or socket would.
 * Each {@link holdEventLoop} is undone by one {@link releaseEventLoop}.
 */
export function holdEventLoop(): void {
  if (keepAliveHolders++ === 0) keepAliveTimer = setInterval(() => {}, KEEP_ALIVE_PERIOD_MS);
}

/** Undoes one {@link holdEventLoop}; the last lets the thread's event loop end. */
export function releaseEventLoop(): void {
  if (--keepAliveHolders === 0) {
    clearInterval(keepAliveTimer);
    keepAliveTimer = undefined;
  }
}
