import { SECTOR_SIZE } from './constants.ts';
import { BlockError } from './errors.ts';

/**
 * What a block backend serves: any storage with positioned, vectored reads and writes. Sectors
 * are blkif's 512-byte units whatever {@link sectorSize} is; the backend only passes ranges that
 * lie inside the disk and are aligned to its sector size.
 */
export interface BlockDisk {
  /** Size in 512-byte sectors. */
  readonly sectors: number;
  /** Logical sector size in bytes (512 or 4096): requests are aligned to it. */
  readonly sectorSize: number;
  /** Physical sector size in bytes (default: {@link sectorSize}). */
  readonly physicalSectorSize?: number;
  /** Writes and discards are refused. */
  readonly readOnly: boolean;
  /** The disk is removable media (`VDISK_REMOVABLE`). */
  readonly removable?: boolean;
  /** Fills `buffers`, one after another, from sector `sector` on. */
  read(sector: number, buffers: readonly Uint8Array[]): Promise<void>;
  /** Writes `buffers`, one after another, from sector `sector` on. */
  write(sector: number, buffers: readonly Uint8Array[]): Promise<void>;
  /**
   * Makes completed writes durable. Without it the disk writes through, and the backend offers
   * no flush (`feature-flush-cache` absent).
   */
  flush?(): Promise<void>;
  /** Marks `count` sectors from `sector` on unused; without it, no `feature-discard`. */
  discard?(sector: number, count: number): Promise<void>;
  /** Releases the storage. */
  close?(): Promise<void>;
}

/**
 * Checks a disk's geometry: a whole number of sectors of a supported size.
 * @throws BlockError `EINVAL`
 */
export function checkDisk(disk: BlockDisk): void {
  const { sectors, sectorSize } = disk;
  const physical = disk.physicalSectorSize ?? sectorSize;
  if (!Number.isSafeInteger(sectors) || sectors < 0) {
    throw new BlockError('EINVAL', `disk size ${sectors} is not a count of sectors`);
  }
  for (const size of [sectorSize, physical]) {
    if (!Number.isInteger(size) || size < SECTOR_SIZE || size > 65536 || size & (size - 1)) {
      throw new BlockError('EINVAL', `sector size ${size} is not a power of two from 512`);
    }
  }
  if ((sectors * SECTOR_SIZE) % sectorSize !== 0) {
    throw new BlockError(
      'EINVAL',
      `a disk of ${sectors} sectors is not whole ${sectorSize}-byte sectors`,
    );
  }
}

/** Total bytes of `buffers`. */
export function byteLength(buffers: readonly Uint8Array[]): number {
  let n = 0;
  for (const buffer of buffers) n += buffer.byteLength;
  return n;
}

/**
 * Checks that `bytes` from `sector` lie inside a disk of `sectors` sectors.
 * @throws BlockError `EINVAL`
 */
export function checkRange(sectors: number, sector: number, bytes: number): void {
  const end = sector + bytes / SECTOR_SIZE;
  if (!Number.isSafeInteger(sector) || sector < 0 || bytes % SECTOR_SIZE !== 0 || end > sectors) {
    throw new BlockError(
      'EINVAL',
      `${bytes} bytes at sector ${sector} are not whole sectors inside ${sectors}`,
    );
  }
}
