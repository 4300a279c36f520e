import { CodedError } from '../device/index.ts';
/**
 * Why a libxenvchan operation failed:
 *
 * - `EINVAL`: bad arguments (a ring size above 1 MiB, a path that is no xenstore path);
 * - `ENOENT`: the server has not published `ring-ref` and `event-channel` at the path;
 * - `ETIMEDOUT`: it did not within the client's `timeoutMs`;
 * - `EPROTO`: the server's page or nodes are malformed (orders, grant list, numbers);
 * - `EPIPE`: a write after the peer closed the vchan;
 * - `ESRCH`: the peer's domain is gone (xenstore released it and the platform confirms it);
 * - `ECONNRESET`: the vchan was closed locally while a write was still waiting for room.
 */
export type VchanErrorCode =
  | 'EINVAL'
  | 'ENOENT'
  | 'ETIMEDOUT'
  | 'EPROTO'
  | 'EPIPE'
  | 'ESRCH'
  | 'ECONNRESET';

/** Failure of a libxenvchan server or client. */
export class VchanError extends CodedError<VchanErrorCode> {
  /** Always `'VchanError'`. */
  override readonly name = 'VchanError';
}

/** True when `error` is a {@link VchanError}, with `code` if given. */
export function isVchanError(error: unknown, code?: VchanErrorCode): error is VchanError {
  return error instanceof VchanError && (code === undefined || error.code === code);
}
