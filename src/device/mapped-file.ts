import { DeviceError, toDeviceError } from './errors.ts';
import { type FileMapHandle, loadNative, type XenwireNative } from './native.ts';

/** Memories (ArrayBuffers) one copy by the addon may take its pieces from. */
const MAX_AREAS = 64;

/**
 * A regular file mapped shared into this process, read and written by copies the native addon
 * makes with `memcpy`: no system call per copy, and no kernel copy routine (under CPU emulation
 * the kernel's string-instruction copy of `pread`/`pwrite` is several times slower than the C
 * library's). A file that another process shrinks while mapped fails the copies that reach past
 * its new end with `EIO` instead of killing the process with SIGBUS. Changes reach the file's
 * page cache at once, as `pwrite`'s do; `fdatasync` on the file makes them durable.
 */
export class MappedFile {
  /** Bytes mapped, from the start of the file. */
  readonly length: number;
  /** Copies into the file are allowed. */
  readonly writable: boolean;
  readonly #native: XenwireNative;
  #handle: FileMapHandle | undefined;
  /** Where each buffer of a copy is, for the addon; grown as needed. */
  #pieces = new Float64Array(3 * 256);

  private constructor(
    native: XenwireNative,
    handle: FileMapHandle,
    length: number,
    writable: boolean,
  ) {
    this.#native = native;
    this.#handle = handle;
    this.length = length;
    this.writable = writable;
  }

  /**
   * Maps the first `length` bytes of the regular file open as `fd`; the mapping outlives the
   * descriptor.
   * @throws DeviceError `ENOSYS` without the native addon; `EINVAL` for a length of 0, past the
   *   end of the file, or a descriptor that is not a regular file's; the OS error otherwise
   */
  static map(
    fd: number,
    length: number,
    options: { readonly writable?: boolean } = {},
  ): MappedFile {
    const native = loadNative();
    const writable = options.writable ?? true;
    try {
      return new MappedFile(native, native.fileMap(fd, length, writable), length, writable);
    } catch (error) {
      throw toDeviceError(error, 'map a file');
    }
  }

  /**
   * Fills `buffers`, one after another, from the file from byte `offset` on.
   * @throws DeviceError `EINVAL` for a range past the mapping; `EIO` when the file ended under
   *   it; `EBADF` once unmapped
   */
  read(offset: number, buffers: readonly Uint8Array[]): void {
    this.#copy(offset, buffers, false);
  }

  /**
   * Writes `buffers`, one after another, into the file from byte `offset` on.
   * @throws DeviceError as {@link read}, and `EBADF` when mapped read-only
   */
  write(offset: number, buffers: readonly Uint8Array[]): void {
    this.#copy(offset, buffers, true);
  }

  /** Unmaps the file now rather than at garbage collection; later copies fail with `EBADF`. */
  unmap(): void {
    const handle = this.#handle;
    this.#handle = undefined;
    if (handle) this.#native.fileUnmap(handle);
  }

  #copy(offset: number, buffers: readonly Uint8Array[], toFile: boolean): void {
    const handle = this.#handle;
    if (!handle) throw new DeviceError('EBADF', 'the file is unmapped');
    // The buffers go to the addon as numbers (which memory, where, how long) in one array: each
    // buffer passed as such would cost it several calls into the engine.
    if (this.#pieces.length < 3 * buffers.length) {
      this.#pieces = new Float64Array(3 * buffers.length);
    }
    const pieces = this.#pieces;
    const areas: Uint8Array[] = [];
    // Where the pieces listed so far start in the file, and where the next one goes.
    let start = offset;
    let at = offset;
    let count = 0;
    let last: ArrayBufferLike | undefined;
    let area = -1;
    for (const buffer of buffers) {
      if (buffer.buffer !== last) {
        const memory = buffer.buffer;
        last = memory;
        area = areas.findIndex((known) => known.buffer === memory);
        if (area < 0 && areas.length === MAX_AREAS) {
          this.#copyPieces(handle, start, areas, count, toFile);
          start = at;
          count = 0;
          areas.length = 0;
        }
        if (area < 0) area = areas.push(new Uint8Array(memory)) - 1;
      }
      pieces[3 * count] = area;
      pieces[3 * count + 1] = buffer.byteOffset;
      pieces[3 * count + 2] = buffer.byteLength;
      at += buffer.byteLength;
      count++;
    }
    this.#copyPieces(handle, start, areas, count, toFile);
  }

  #copyPieces(
    handle: FileMapHandle,
    offset: number,
    areas: readonly Uint8Array[],
    count: number,
    toFile: boolean,
  ): void {
    try {
      this.#native.fileCopy(handle, offset, areas, this.#pieces, count, toFile);
    } catch (error) {
      throw toDeviceError(error, toFile ? 'write to a mapped file' : 'read from a mapped file');
    }
  }
}
