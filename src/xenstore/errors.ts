import { ERRNO, isWireErrorName, type WireErrorName } from './constants.ts';

/**
 * Codes a {@link XenstoreError} may carry: the sixteen names a server sends, plus the ones this
 * library raises itself for failures that never reach a server.
 * @category Errors
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

/**
 * The optional parts of a {@link XenstoreError}, for its options-object constructor.
 * @category Errors
 */
export interface XenstoreErrorOptions extends ErrorOptions {
  /** The message; by default the code, the operation and the path (`ENOENT: READ /vm/x`). */
  readonly message?: string;
  /** The request type that failed, e.g. `'READ'`. */
  readonly op?: string;
  /** The node path the request named. */
  readonly path?: string;
}

/**
 * What went wrong where: an errno-style `code`, plus the operation and path when known.
 *
 * An aborted request (`code` `ABORT_ERR`) is named `AbortError`, as Node's own APIs name theirs,
 * so `error.name === 'AbortError'` checks work for it too.
 *
 * ```ts
 * throw new XenstoreError('ENOENT', { op: 'READ', path: '/vm/x', cause });
 * ```
 * @category Errors
 */
export class XenstoreError extends Error {
  /** `'AbortError'` when `code` is `ABORT_ERR`, else `'XenstoreError'`. */
  override readonly name: 'XenstoreError' | 'AbortError';
  /** Why it failed: the server's error name, or one the client raises itself. */
  readonly code: XenstoreErrorCode;
  /** The request type that failed, when known. */
  readonly op: string | undefined;
  /** The node path the request named, when known. */
  readonly path: string | undefined;
  /** The Linux errno number for `code`, when it has one. */
  readonly errno: number | undefined;

  /** @param options - message, operation, path and cause; each optional */
  constructor(code: XenstoreErrorCode, options?: XenstoreErrorOptions);
  /**
   * The positional form: `new XenstoreError('ENOENT', undefined, 'READ', path)`.
   * @param message - by default the code, the operation and the path
   */
  constructor(
    code: XenstoreErrorCode,
    message?: string,
    op?: string,
    path?: string,
    options?: ErrorOptions,
  );
  constructor(
    code: XenstoreErrorCode,
    messageOrOptions?: string | XenstoreErrorOptions,
    op?: string,
    path?: string,
    options?: ErrorOptions,
  ) {
    const given: XenstoreErrorOptions =
      typeof messageOrOptions === 'object'
        ? messageOrOptions
        : { message: messageOrOptions, op, path, ...options };
    super(
      given.message ?? describe(code, given.op, given.path),
      'cause' in given ? { cause: given.cause } : undefined,
    );
    this.name = code === 'ABORT_ERR' ? 'AbortError' : 'XenstoreError';
    this.code = code;
    this.op = given.op;
    this.path = given.path;
    this.errno = isWireErrorName(code) ? ERRNO[code] : localErrno[code];
  }
}

function describe(code: string, op?: string, path?: string): string {
  const where = [op, path].filter(Boolean).join(' ');
  return where ? `${code}: ${where}` : code;
}

/**
 * True when `err` is a {@link XenstoreError} with the given code.
 * @category Errors
 */
export function isXenstoreError(err: unknown, code?: XenstoreErrorCode): err is XenstoreError {
  return err instanceof XenstoreError && (code === undefined || err.code === code);
}
