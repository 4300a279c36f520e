import { SECTOR_SIZE } from './constants.ts';
import { type BlockDisk, byteLength, checkDisk, checkRange } from './disk.ts';
import { BlockError } from './errors.ts';

/** Options of {@link MemoryDisk}. */
export interface MemoryDiskOptions {
  /** Logical sector size (default 512). */
  readonly sectorSize?: number;
  /** Physical sector size advertised to the frontend (default: the logical sector size). */
  readonly physicalSectorSize?: number;
  /** Refuse writes and discards with `EROFS` and advertise `VDISK_READONLY` (default false). */
  readonly readOnly?: boolean;
  /** Offer discard, which zeroes the sectors (default true). */
  readonly discard?: boolean;
  /** Offer flush, a no-op here (default true). */
  readonly flush?: boolean;
}

/**
 * A disk in memory: the whole contents in one `Uint8Array` ({@link bytes}), for tests and for
 * serving generated images. Discarded sectors read back as zeros.
 */
export class MemoryDisk implements BlockDisk {
  /** The disk's contents, live: inspect or change them between requests. */
  readonly bytes: Uint8Array;
  readonly sectors: number;
  readonly sectorSize: number;
  readonly physicalSectorSize: number;
  readonly readOnly: boolean;
  readonly flush?: () => Promise<void>;
  readonly discard?: (sector: number, count: number) => Promise<void>;

  /**
   * @param contents - the disk's bytes (used, not copied), or its size in bytes for a zeroed one
   */
  constructor(contents: Uint8Array | number, options: MemoryDiskOptions = {}) {
    this.bytes = typeof contents === 'number' ? new Uint8Array(contents) : contents;
    if (this.bytes.byteLength % SECTOR_SIZE !== 0) {
      throw new BlockError('EINVAL', `${this.bytes.byteLength} bytes are not whole sectors`);
    }
    this.sectors = this.bytes.byteLength / SECTOR_SIZE;
    this.sectorSize = options.sectorSize ?? SECTOR_SIZE;
    this.physicalSectorSize = options.physicalSectorSize ?? this.sectorSize;
    this.readOnly = options.readOnly ?? false;
    if (options.flush ?? true) this.flush = async () => {};
    if (options.discard ?? true) {
      this.discard = async (sector, count) => {
        checkRange(this.sectors, sector, count * SECTOR_SIZE);
        this.#writable();
        this.bytes.fill(0, sector * SECTOR_SIZE, (sector + count) * SECTOR_SIZE);
      };
    }
    checkDisk(this);
  }

  async read(sector: number, buffers: readonly Uint8Array[]): Promise<void> {
    checkRange(this.sectors, sector, byteLength(buffers));
    let at = sector * SECTOR_SIZE;
    for (const buffer of buffers) {
      buffer.set(this.bytes.subarray(at, at + buffer.byteLength));
      at += buffer.byteLength;
    }
  }

  async write(sector: number, buffers: readonly Uint8Array[]): Promise<void> {
    checkRange(this.sectors, sector, byteLength(buffers));
    this.#writable();
    let at = sector * SECTOR_SIZE;
    for (const buffer of buffers) {
      this.bytes.set(buffer, at);
      at += buffer.byteLength;
    }
  }

  #writable(): void {
    if (this.readOnly) throw new BlockError('EROFS', 'the disk is read-only');
  }
}
