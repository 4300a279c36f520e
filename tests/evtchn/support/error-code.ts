import { expect } from 'vitest';
import type { DeviceError } from '../../../src/device/index.ts';
import { EvtchnError } from '../../../src/evtchn/index.ts';

/**
 * The `code` of the error of class `kind` (an {@link EvtchnError} unless given) that `fn`
 * throws, or `undefined` if it returns.
 */
export function code(
  fn: () => unknown,
  kind: typeof DeviceError = EvtchnError,
): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(kind);
    return (error as DeviceError).code;
  }
  return undefined;
}
