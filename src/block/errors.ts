import { CodedError } from '../device/index.ts';
import type { XenbusError } from '../xenbus/index.ts';

/**
 * Why a block-device operation failed:
 *
 * - `EIO`: the backend answered `BLKIF_RSP_ERROR` (or the disk under a backend failed);
 * - `EOPNOTSUPP`: the backend does not offer the operation, or answered `BLKIF_RSP_EOPNOTSUPP`;
 * - `EROFS`: a write or discard to a read-only disk;
 * - `EINVAL`: bad arguments (a range past the end, not a multiple of the sector size, …);
 * - `EPROTO`: the peer broke blkif (malformed keys, a response to no request, ring indexes no
 *   honest peer produces); the device is then closed;
 * - `ETIMEDOUT`: the backend did not answer a request in time; the device is then closed;
 * - `ECONNRESET`: the device closed (the peer closed it, or it was closed here);
 * - `ESRCH`: the peer's domain is gone.
 */
export type BlockErrorCode =
  | 'EIO'
  | 'EOPNOTSUPP'
  | 'EROFS'
  | 'EINVAL'
  | 'EPROTO'
  | 'ETIMEDOUT'
  | 'ECONNRESET'
  | 'ESRCH';

/** Failure of a block-device operation or of the device. */
export class BlockError extends CodedError<BlockErrorCode> {
  /** Always `'BlockError'`. */
  override readonly name = 'BlockError';
}

/**
 * Why a block device closed, from the xenbus device's reason: the peer's domain gone (`ESRCH`),
 * blkif broken (`EPROTO`), or anything else that closed it (`ECONNRESET`).
 */
export function closeReason(reason: XenbusError | BlockError | undefined): BlockError {
  if (reason instanceof BlockError) return reason;
  const code = reason?.code === 'ESRCH' || reason?.code === 'EPROTO' ? reason.code : 'ECONNRESET';
  const message = reason?.message.replace(`${reason.code}: `, '') ?? 'the device closed';
  return new BlockError(code, message, { cause: reason });
}

/** True when `error` is a {@link BlockError}, with `code` if given. */
export function isBlockError(error: unknown, code?: BlockErrorCode): error is BlockError {
  return error instanceof BlockError && (code === undefined || error.code === code);
}
