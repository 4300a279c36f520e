import { XenstoreError, type XenstoreErrorCode } from '../errors.ts';

/**
 * What a failed connect or device open means, by the system's errno name: nothing at the path
 * (`ENOENT`), nobody listening (`ECONNREFUSED`), not allowed (`EACCES`, `EPERM`). `ECONNRESET` is
 * kept for a connection lost after it was made, so it never stands for a connect that failed.
 */
const CONNECT_CODES: Readonly<Record<string, XenstoreErrorCode>> = {
  ENOENT: 'ENOENT',
  ENOTDIR: 'ENOENT',
  // A device node without its driver.
  ENXIO: 'ENOENT',
  ENODEV: 'ENOENT',
  ECONNREFUSED: 'ECONNREFUSED',
  // A unix socket whose listen backlog stays full: the server does not accept.
  EAGAIN: 'ECONNREFUSED',
  EACCES: 'EACCES',
  EPERM: 'EPERM',
  ENAMETOOLONG: 'ENAMETOOLONG',
};

/** The typed error of a connect to `target` that failed with `error`. */
export function connectFailure(target: string, error: unknown): XenstoreError {
  const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  return new XenstoreError(
    CONNECT_CODES[code] ?? 'ECONNREFUSED',
    `cannot connect to ${target}: ${code}`,
    undefined,
    undefined,
    { cause: error },
  );
}
