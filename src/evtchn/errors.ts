/**
 * The errno-style codes an event-channel operation can fail with. They are the codes the Linux
 * `/dev/xen/evtchn` driver and the hypervisor return for the same misuse, so code written against
 * the simulation sees the failures it will see on a real host.
 */
export type EvtchnErrorCode =
  | 'EINVAL'
  | 'ENOENT'
  | 'ENOTCONN'
  | 'EEXIST'
  | 'EBADF'
  | 'EBUSY'
  | 'EACCES'
  | 'EPERM'
  | 'ESRCH'
  | 'ENOSPC'
  | 'ENOSYS'
  | 'ENOMEM'
  | 'EAGAIN'
  | 'ENAMETOOLONG'
  | 'EADDRINUSE'
  | 'ECONNREFUSED'
  | 'ENOTTY'
  | 'ENODEV'
  | 'EIO';

/** Failure of an event-channel, grant-table or native-addon operation. */
export class EvtchnError extends Error {
  override readonly name = 'EvtchnError';

  /**
   * @param code - errno-style reason, stable across backends
   * @param message - human-readable detail
   * @param options - optional underlying cause
   */
  constructor(
    readonly code: EvtchnErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
  }
}

const knownCodes: ReadonlySet<string> = new Set<EvtchnErrorCode>([
  'EINVAL',
  'ENOENT',
  'ENOTCONN',
  'EEXIST',
  'EBADF',
  'EBUSY',
  'EACCES',
  'EPERM',
  'ESRCH',
  'ENOSPC',
  'ENOSYS',
  'ENOMEM',
  'EAGAIN',
  'ENAMETOOLONG',
  'EADDRINUSE',
  'ECONNREFUSED',
  'ENOTTY',
  'ENODEV',
  'EIO',
]);

/**
 * Converts an error thrown by the native addon or the OS (which carries an errno name in `code`)
 * into an {@link EvtchnError}; codes outside the known set become `EIO` so callers can switch
 * exhaustively.
 */
export function toEvtchnError(error: unknown, operation: string): EvtchnError {
  if (error instanceof EvtchnError) return error;
  const raw = (error as { code?: unknown } | null)?.code;
  const code = typeof raw === 'string' && knownCodes.has(raw) ? (raw as EvtchnErrorCode) : 'EIO';
  const detail = error instanceof Error ? error.message : String(error);
  return new EvtchnError(code, `${operation}: ${detail}`, { cause: error });
}
