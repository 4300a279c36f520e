import { DeviceError, type DeviceErrorCode, errnoCode, failureDetail } from '../device/errors.ts';

/**
 * The errno-style codes an event-channel operation can fail with: those of device access, since
 * they are what the Linux `/dev/xen/evtchn` driver and the hypervisor return for the same misuse.
 */
export type EvtchnErrorCode = DeviceErrorCode;

/** Failure of an event-channel or grant-table operation. */
export class EvtchnError extends DeviceError {
  /** Always `'EvtchnError'`; `instanceof DeviceError` holds too. */
  override readonly name = 'EvtchnError';
}

/**
 * Converts an error thrown by the native addon or the OS (which carries an errno name in `code`)
 * into an {@link EvtchnError}; codes outside the known set become `EIO` so callers can switch
 * exhaustively.
 */
export function toEvtchnError(error: unknown, operation: string): EvtchnError {
  if (error instanceof EvtchnError) return error;
  return new EvtchnError(errnoCode(error), failureDetail(error, operation), { cause: error });
}

/** True when `err` is an {@link EvtchnError}, with the given code if one is named. */
export function isEvtchnError(err: unknown, code?: EvtchnErrorCode): err is EvtchnError {
  return err instanceof EvtchnError && (code === undefined || err.code === code);
}
