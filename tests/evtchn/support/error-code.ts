import { expect } from 'vitest';
import { EvtchnError } from '../../../src/evtchn/index.ts';

/** The `code` of the {@link EvtchnError} that `fn` throws, or `undefined` if it returns. */
export function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(EvtchnError);
    return (error as EvtchnError).code;
  }
  return undefined;
}
