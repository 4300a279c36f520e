import { CodedError } from '../device/index.ts';
/**
 * Why a xenbus device operation failed:
 *
 * - `ETIMEDOUT`: the peer did not reach the awaited state in time;
 * - `EPROTO`: the peer broke the handshake (a state out of order, a malformed value);
 * - `ENOENT`: a key the handshake needs is missing;
 * - `ESRCH`: the peer's domain is gone;
 * - `ECONNRESET`: the peer closed the device;
 * - `EINVAL`: bad arguments;
 * - `EBADF`: the device end was already closed or connected;
 * - `EBUSY`: a close could not finish cleanly (the peer did not close, a release failed).
 */
export type XenbusErrorCode =
  | 'ETIMEDOUT'
  | 'EPROTO'
  | 'ENOENT'
  | 'ESRCH'
  | 'ECONNRESET'
  | 'EINVAL'
  | 'EBADF'
  | 'EBUSY';

/** Failure of a xenbus device handshake or of the device's life afterwards. */
export class XenbusError extends CodedError<XenbusErrorCode> {
  /** Always `'XenbusError'`. */
  override readonly name = 'XenbusError';
}

/** True when `error` is a {@link XenbusError}, with `code` if given. */
export function isXenbusError(error: unknown, code?: XenbusErrorCode): error is XenbusError {
  return error instanceof XenbusError && (code === undefined || error.code === code);
}
