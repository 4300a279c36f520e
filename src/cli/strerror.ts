/**
 * glibc's `strerror` texts for the errors a xenstore client meets, so that messages ending in
 * `: <reason>` (the C tools' `err()`) read the same.
 */
const texts: Readonly<Record<string, string>> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  EIO: 'Input/output error',
  E2BIG: 'Argument list too long',
  EAGAIN: 'Resource temporarily unavailable',
  ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied',
  EBUSY: 'Device or resource busy',
  EEXIST: 'File exists',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  EINVAL: 'Invalid argument',
  ENOSPC: 'No space left on device',
  EROFS: 'Read-only file system',
  ENOSYS: 'Function not implemented',
  ENOTEMPTY: 'Directory not empty',
  EPROTO: 'Protocol error',
  ECONNRESET: 'Connection reset by peer',
  EISCONN: 'Transport endpoint is already connected',
  ETIMEDOUT: 'Connection timed out',
  ECONNREFUSED: 'Connection refused',
  ENOTSOCK: 'Socket operation on non-socket',
  EALREADY: 'Operation already in progress',
};

/** The text for an errno name such as `ENOENT`; unknown names are returned as they are. */
export function strerror(code: string): string {
  return texts[code] ?? code;
}
