import { ERRNO, isWireErrorName, type WireErrorName } from './constants.ts';

/**
 * Codes a {@link XenstoreError} may carry: the sixteen names a server sends, plus the ones this
 * library raises itself for failures that never reach a server.
 */
export type XenstoreErrorCode =
  | WireErrorName
  /** The peer broke the framing rules (bad header, oversize payload, malformed reply). */
  | 'EPROTO'
  /** No reply within the request's timeout. */
  | 'ETIMEDOUT'
  /** The connection closed while the request was pending. */
  | 'ECONNRESET'
  /** Nothing listens on the socket (a stale socket file left by a server that died). */
  | 'ECONNREFUSED'
  /** A server already answers on the socket path a listener was asked to use. */
  | 'EADDRINUSE'
  /** A socket path longer than the 107 bytes `sun_path` holds. */
  | 'ENAMETOOLONG'
  /** The caller aborted the request through its `AbortSignal`. */
  | 'ABORT_ERR'
  /** The operation is already in progress (e.g. a watch registered twice on one client). */
  | 'EALREADY';

const localErrno: Readonly<Record<string, number>> = {
  EPROTO: 71,
  ETIMEDOUT: 110,
  ECONNRESET: 104,
  ECONNREFUSED: 111,
  EADDRINUSE: 98,
  ENAMETOOLONG: 36,
  EALREADY: 114,
};

/** What went wrong where: an errno-style `code`, plus the operation and path when known. */
export class XenstoreError extends Error {
  override readonly name = 'XenstoreError';
  /** The Linux errno number for `code`, when it has one. */
  readonly errno: number | undefined;

  constructor(
    readonly code: XenstoreErrorCode,
    message?: string,
    readonly op?: string,
    readonly path?: string,
    options?: ErrorOptions,
  ) {
    super(message ?? describe(code, op, path), options);
    this.errno = isWireErrorName(code) ? ERRNO[code] : localErrno[code];
  }
}

function describe(code: string, op?: string, path?: string): string {
  const where = [op, path].filter(Boolean).join(' ');
  return where ? `${code}: ${where}` : code;
}

/** True when `err` is a {@link XenstoreError} with the given code. */
export function isXenstoreError(err: unknown, code?: XenstoreErrorCode): err is XenstoreError {
  return err instanceof XenstoreError && (code === undefined || err.code === code);
}
