/** Result of `Atomics.waitAsync` (ES2024; missing from the ES2023 library typings used here). */
type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };

const atomics = Atomics as unknown as {
  waitAsync(words: Int32Array, index: number, value: number, timeoutMs?: number): WaitAsyncResult;
};

/**
 * Resolves once `words[index]` is notified, or at once if it no longer holds `value`. Lets the
 * main thread sleep on shared memory without blocking its event loop.
 */
export async function waitForChange(
  words: Int32Array,
  index: number,
  value: number,
): Promise<void> {
  const result = atomics.waitAsync(words, index, value);
  if (result.async) await result.value;
}
