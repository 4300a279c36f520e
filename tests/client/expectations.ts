import { expect } from 'vitest';
import { XenstoreError } from '../../src/xenstore/errors.ts';

/** Resolves once `condition()` holds, checking after each event-loop turn; no clock involved. */
export async function until(condition: () => boolean, turns = 100_000): Promise<void> {
  for (let i = 0; i < turns && !condition(); i++) await new Promise(setImmediate);
  expect(condition()).toBe(true);
}

/** The XenstoreError `promise` rejects with; fails the test when it resolves or throws else. */
export async function rejection(promise: Promise<unknown>): Promise<XenstoreError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(XenstoreError);
  return error as XenstoreError;
}
