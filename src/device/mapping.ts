import { closeSync, constants, openSync } from 'node:fs';
import { toDeviceError } from './errors.ts';
import { loadNative } from './native.ts';

/** What to map. */
export interface MapOptions {
  /** Bytes to map (the device's or file's page multiple; a file must be at least this long). */
  readonly length: number;
  /** Byte offset in the file, page aligned. Default 0. */
  readonly offset?: number;
  /** Map read-write. Default true. */
  readonly writable?: boolean;
}

/**
 * Maps `length` bytes of a file or device (a regular file, `/dev/xen/gntdev`, xenstored's
 * `xsd_kva`, …) shared, as an ArrayBuffer. Writes through it reach the file and every other
 * process mapping it. The mapping outlives the descriptor used to make it.
 * @throws DeviceError `ENOSYS` without the native addon; `EINVAL` for a range past the end of
 *   a regular file (touching it would kill the process with SIGBUS); the OS error otherwise
 */
export function mapFile(path: string, options: MapOptions): ArrayBuffer {
  loadNative();
  const writable = options.writable ?? true;
  let fd: number;
  try {
    fd = openSync(path, writable ? constants.O_RDWR : constants.O_RDONLY);
  } catch (error) {
    throw toDeviceError(error, `open ${path}`);
  }
  try {
    return mapFd(fd, options);
  } finally {
    closeSync(fd);
  }
}

/** Like {@link mapFile} for an already open descriptor (e.g. a gntdev handle). */
export function mapFd(fd: number, options: MapOptions): ArrayBuffer {
  const native = loadNative();
  try {
    return native.mmap(fd, options.length, options.offset ?? 0, options.writable ?? true);
  } catch (error) {
    throw toDeviceError(error, 'mmap');
  }
}

/**
 * Unmaps a buffer returned by {@link mapFile} or {@link mapFd} now rather than at garbage
 * collection; the buffer is detached (byteLength 0), so stale views cannot reach freed memory.
 * @throws DeviceError `EINVAL` for a buffer that is not a live mapping
 */
export function unmap(buffer: ArrayBuffer): void {
  try {
    loadNative().munmap(buffer);
  } catch (error) {
    throw toDeviceError(error, 'munmap');
  }
}
