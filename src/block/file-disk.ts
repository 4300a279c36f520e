import { constants, readvSync, writevSync } from 'node:fs';
import { type FileHandle, open, statfs } from 'node:fs/promises';
import { SECTOR_SIZE } from './constants.ts';
import { type BlockDisk, byteLength, checkDisk, checkRange } from './disk.ts';
import { BlockError } from './errors.ts';

/** Options of {@link FileDisk.open}. */
export interface FileDiskOptions {
  /** Open the image read-only and refuse writes and discards. */
  readonly readOnly?: boolean;
  /** Logical sector size offered to the guest (default 512). */
  readonly sectorSize?: number;
  /**
   * Read and write on the calling thread rather than in libuv's thread pool. Each request then
   * costs no hand-over to a pool thread and back (two thread wake-ups, an `eventfd` write and a
   * poll), which is most of what a request whose bytes are in memory costs; but the event loop
   * waits while the kernel copies, and for as long as a read from a slow device takes, and
   * requests no longer overlap at the device. Default: true for an image on a file system in
   * memory (tmpfs, ramfs), where nothing waits for a device; false otherwise.
   */
  readonly synchronous?: boolean;
}

/** `statfs` types of file systems that keep files in memory: tmpfs (`TMPFS_MAGIC`) and ramfs. */
const IN_MEMORY_FILE_SYSTEMS = new Set([0x01021994, 0x858458f6]);

/** Bytes of zeros written at a time for a discard. */
const ZERO_CHUNK = 1024 * 1024;

/**
 * A raw disk image in a regular file: sector N is at byte N × 512. Reads and writes are
 * positioned and vectored (`preadv`/`pwritev`, in libuv's thread pool or on the calling thread:
 * {@link FileDiskOptions.synchronous}) straight from and into the buffers given, flush is
 * `fdatasync`, and discard writes zeros (Node has no `fallocate` to punch holes).
 */
export class FileDisk implements BlockDisk {
  readonly sectors: number;
  readonly sectorSize: number;
  readonly readOnly: boolean;
  /** Reads and writes run on the calling thread (see {@link FileDiskOptions.synchronous}). */
  readonly synchronous: boolean;
  readonly #file: FileHandle;
  #zeros: Uint8Array | undefined;

  private constructor(
    file: FileHandle,
    bytes: number,
    options: FileDiskOptions & { synchronous: boolean },
  ) {
    this.#file = file;
    this.sectors = bytes / SECTOR_SIZE;
    this.sectorSize = options.sectorSize ?? SECTOR_SIZE;
    this.readOnly = options.readOnly ?? false;
    this.synchronous = options.synchronous;
    checkDisk(this);
  }

  /**
   * Opens an image; its size must be whole sectors.
   * @throws BlockError `EINVAL` for a file that is not a whole number of sectors or not a regular
   *   file; the `open` error (`ENOENT`, `EACCES`, …) otherwise
   */
  static async open(path: string, options: FileDiskOptions = {}): Promise<FileDisk> {
    const file = await open(path, options.readOnly ? constants.O_RDONLY : constants.O_RDWR);
    try {
      const stats = await file.stat();
      if (!stats.isFile()) throw new BlockError('EINVAL', `${path} is not a regular file`);
      if (stats.size % SECTOR_SIZE !== 0) {
        throw new BlockError('EINVAL', `${path}: ${stats.size} bytes are not whole sectors`);
      }
      const synchronous =
        options.synchronous ?? IN_MEMORY_FILE_SYSTEMS.has(Number((await statfs(path)).type));
      return new FileDisk(file, stats.size, { ...options, synchronous });
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  async read(sector: number, buffers: readonly Uint8Array[]): Promise<void> {
    const bytes = byteLength(buffers);
    checkRange(this.sectors, sector, bytes);
    const at = sector * SECTOR_SIZE;
    const bytesRead = this.synchronous
      ? readvSync(this.#file.fd, buffers, at)
      : (await this.#file.readv(buffers as Uint8Array[], at)).bytesRead;
    if (bytesRead !== bytes) {
      throw new BlockError('EIO', `read ${bytesRead} of ${bytes} bytes at sector ${sector}`);
    }
  }

  async write(sector: number, buffers: readonly Uint8Array[]): Promise<void> {
    const bytes = byteLength(buffers);
    checkRange(this.sectors, sector, bytes);
    this.#writable();
    const at = sector * SECTOR_SIZE;
    const bytesWritten = this.synchronous
      ? writevSync(this.#file.fd, buffers, at)
      : (await this.#file.writev(buffers as Uint8Array[], at)).bytesWritten;
    if (bytesWritten !== bytes) {
      throw new BlockError('EIO', `wrote ${bytesWritten} of ${bytes} bytes at sector ${sector}`);
    }
  }

  async flush(): Promise<void> {
    await this.#file.datasync();
  }

  async discard(sector: number, count: number): Promise<void> {
    checkRange(this.sectors, sector, count * SECTOR_SIZE);
    this.#writable();
    this.#zeros ??= new Uint8Array(ZERO_CHUNK);
    for (let at = sector * SECTOR_SIZE, end = (sector + count) * SECTOR_SIZE; at < end; ) {
      const n = Math.min(ZERO_CHUNK, end - at);
      await this.#file.write(this.#zeros, 0, n, at);
      at += n;
    }
  }

  async close(): Promise<void> {
    await this.#file.close();
  }

  #writable(): void {
    if (this.readOnly) throw new BlockError('EROFS', 'the image is read-only');
  }
}
