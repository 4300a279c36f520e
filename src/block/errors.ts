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
export class BlockError extends Error {
  override readonly name = 'BlockError';

  constructor(
    readonly code: BlockErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
  }
}

/** True when `error` is a {@link BlockError}, with `code` if given. */
export function isBlockError(error: unknown, code?: BlockErrorCode): error is BlockError {
  return error instanceof BlockError && (code === undefined || error.code === code);
}
