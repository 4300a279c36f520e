import { constants, readvSync, writevSync } from 'node:fs';
import { type FileHandle, open, statfs } from 'node:fs/promises';
import { isNativeAvailable, MappedFile } from '../device/index.ts';
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
  /**
   * Copy to and from a shared mapping of the image ({@link MappedFile}) rather than with
   * `preadv`/`pwritev`: no system call per request, and the C library's `memcpy` instead of the
   * kernel's copy routine, which under CPU emulation (a test lane under QEMU) is several times
   * slower. Implies {@link synchronous}. Each page's first touch through the mapping costs a
   * page fault, which a paravirtualised Dom0 pays dearly; later requests to it cost only the
   * copy. A copy past the end of an image that another process shrank fails with `EIO`. Needs
   * the native addon. Default: true for an image on a file system in memory (tmpfs, ramfs) when
   * the addon is there; false otherwise.
   */
  readonly mapped?: boolean;
}

/** `statfs` types of file systems that keep files in memory: tmpfs (`TMPFS_MAGIC`) and ramfs. */
const IN_MEMORY_FILE_SYSTEMS = new Set([0x01021994, 0x858458f6]);

/** Bytes of zeros written at a time for a discard. */
const ZERO_CHUNK = 1024 * 1024;

/**
 * A raw disk image in a regular file: sector N is at byte N × 512. Reads and writes copy straight
 * from and into the buffers given: through a shared mapping of the image
 * ({@link FileDiskOptions.mapped}), or positioned and vectored (`preadv`/`pwritev`, in libuv's
 * thread pool or on the calling thread: {@link FileDiskOptions.synchronous}). Flush is
 * `fdatasync` (on Linux it also writes back what was changed through the mapping), and discard
 * writes zeros (Node has no `fallocate` to punch holes).
 */
export class FileDisk implements BlockDisk {
  readonly sectors: number;
  readonly sectorSize: number;
  readonly readOnly: boolean;
  /** Reads and writes run on the calling thread (see {@link FileDiskOptions.synchronous}). */
  readonly synchronous: boolean;
  /** Reads and writes copy through a mapping of the image (see {@link FileDiskOptions.mapped}). */
  readonly mapped: boolean;
  readonly #file: FileHandle;
  readonly #mapping: MappedFile | undefined;
  #zeros: Uint8Array | undefined;

  private constructor(
    file: FileHandle,
    bytes: number,
    options: FileDiskOptions & { synchronous: boolean; mapped: boolean },
  ) {
    this.#file = file;
    this.sectors = bytes / SECTOR_SIZE;
    this.sectorSize = options.sectorSize ?? SECTOR_SIZE;
    this.readOnly = options.readOnly ?? false;
    checkDisk(this);
    this.#mapping = options.mapped
      ? MappedFile.map(file.fd, bytes, { writable: !this.readOnly })
      : undefined;
    this.mapped = this.#mapping !== undefined;
    this.synchronous = this.mapped || options.synchronous;
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
      const inMemory = IN_MEMORY_FILE_SYSTEMS.has(Number((await statfs(path)).type));
      // An empty image has nothing to map.
      const mapped = options.mapped ?? (inMemory && stats.size > 0 && isNativeAvailable());
      const synchronous = options.synchronous ?? inMemory;
      return new FileDisk(file, stats.size, { ...options, synchronous, mapped });
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  async read(sector: number, buffers: readonly Uint8Array[]): Promise<void> {
    const bytes = byteLength(buffers);
    checkRange(this.sectors, sector, bytes);
    const at = sector * SECTOR_SIZE;
    if (this.#mapping) return this.#copy(this.#mapping, at, buffers, false);
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
    if (this.#mapping) return this.#copy(this.#mapping, at, buffers, true);
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
    this.#mapping?.unmap();
    await this.#file.close();
  }

  /** A copy through the mapping; its failure (the image shrank under it) as the disk's `EIO`. */
  #copy(mapping: MappedFile, at: number, buffers: readonly Uint8Array[], write: boolean): void {
    try {
      if (write) mapping.write(at, buffers);
      else mapping.read(at, buffers);
    } catch (error) {
      throw new BlockError('EIO', (error as Error).message, { cause: error });
    }
  }

  #writable(): void {
    if (this.readOnly) throw new BlockError('EROFS', 'the image is read-only');
  }
}
