/**
 * The errno-style codes a Xen device operation can fail with: the codes Linux's
 * `/dev/xen/*` drivers and the hypervisor return for the same misuse, so code written against a
 * simulation sees the failures it will see on a real host.
 */
export type DeviceErrorCode =
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

/**
 * An error whose `code` is one of a fixed set of errno-style names, and whose message starts with
 * it: the shape every failure of devices, xenbus, block, vchan and console shares, so that code
 * branches on `code` alike whatever layer threw.
 */
export class CodedError<Code extends string> extends Error {
  /**
   * @param code - what went wrong, errno-style, stable across backends: branch on this
   * @param message - human-readable detail
   * @param options - optional underlying cause
   */
  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
  }
}

/**
 * Failure of device access: loading the native addon, `mmap`, gntdev, gntalloc. Event-channel
 * failures are its subclass `EvtchnError`, so one `instanceof DeviceError` covers both.
 */
export class DeviceError extends CodedError<DeviceErrorCode> {
  /** `'DeviceError'`, or `'EvtchnError'` for the subclass, for logs printing `name: message`. */
  override readonly name: string = 'DeviceError';
}

/**
 * True when `err` is a {@link DeviceError} (an `EvtchnError` included), with the given code if
 * one is named.
 */
export function isDeviceError(err: unknown, code?: DeviceErrorCode): err is DeviceError {
  return err instanceof DeviceError && (code === undefined || err.code === code);
}

const knownCodes: ReadonlySet<string> = new Set<DeviceErrorCode>([
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
 * The code of an error thrown by the native addon or the OS (which carries an errno name in
 * `code`); codes outside the known set become `EIO`, so callers can switch exhaustively.
 */
export function errnoCode(error: unknown): DeviceErrorCode {
  const raw = (error as { code?: unknown } | null)?.code;
  return typeof raw === 'string' && knownCodes.has(raw) ? (raw as DeviceErrorCode) : 'EIO';
}

/** `operation: what the addon or the OS said`, the message of a converted error. */
export function failureDetail(error: unknown, operation: string): string {
  return `${operation}: ${error instanceof Error ? error.message : String(error)}`;
}

/** Converts an error thrown by the native addon or the OS into a {@link DeviceError}. */
export function toDeviceError(error: unknown, operation: string): DeviceError {
  if (error instanceof DeviceError) return error;
  return new DeviceError(errnoCode(error), failureDetail(error, operation), { cause: error });
}
