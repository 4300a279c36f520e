import {
  type BlkifProtocol,
  DEFAULT_MAX_INDIRECT_SEGMENTS,
  SECTOR_SIZE,
  VdiskInfo,
} from './constants.ts';
import type { BlockDisk } from './disk.ts';
import { BlockError } from './errors.ts';

/**
 * The xenstore keys of blkif's negotiation, both ways, in the order Linux's drivers use them:
 * the backend advertises its transport limits with InitWait (blkfront reads them to lay out its
 * rings), the frontend publishes its rings, `protocol` and `feature-persistent` with
 * Initialised, and the backend publishes the disk (`sectors`, `info`, sector sizes, features)
 * with Connected.
 */

/** What a backend offers before the frontend connects. */
export interface TransportLimits {
  /** `feature-max-indirect-segments` (0: none). */
  readonly maxIndirectSegments: number;
  /** `multi-queue-max-queues`. */
  readonly maxQueues: number;
  /** `max-ring-page-order`. */
  readonly maxRingPageOrder: number;
  /** `feature-persistent`. */
  readonly persistent: boolean;
}

const flag = (on: boolean): string => (on ? '1' : '0');

/** The keys a backend writes with InitWait. */
export function initWaitKeys(limits: TransportLimits): Record<string, string> {
  return {
    ...(limits.maxIndirectSegments > 0
      ? { 'feature-max-indirect-segments': String(limits.maxIndirectSegments) }
      : {}),
    'multi-queue-max-queues': String(limits.maxQueues),
    'max-ring-page-order': String(limits.maxRingPageOrder),
    'feature-persistent': flag(limits.persistent),
  };
}

/**
 * The keys a backend writes with Connected. Features the disk lacks are left out rather than
 * written as 0, as blkif.h asks of a backend that does not recognise them. `sectors` counts
 * 512-byte sectors, as Linux's drivers do (blkif.h's newer text says logical sectors; the
 * drivers never changed).
 */
export function connectedKeys(disk: BlockDisk, persistent: boolean): Record<string, string> {
  const info =
    (disk.readOnly ? VdiskInfo.readOnly : 0) | (disk.removable ? VdiskInfo.removable : 0);
  return {
    ...(disk.flush ? { 'feature-flush-cache': '1', 'feature-barrier': '1' } : {}),
    ...(disk.discard
      ? {
          'feature-discard': '1',
          'discard-granularity': String(disk.sectorSize),
          'discard-alignment': '0',
          'discard-secure': '0',
        }
      : {}),
    'feature-persistent': flag(persistent),
    sectors: String(disk.sectors),
    info: String(info),
    'sector-size': String(disk.sectorSize),
    'physical-sector-size': String(disk.physicalSectorSize ?? disk.sectorSize),
  };
}

/** What a frontend publishes besides its rings. */
export function frontendKeys(protocol: BlkifProtocol, persistent: boolean): Record<string, string> {
  return { protocol, 'feature-persistent': flag(persistent) };
}

/** Reads a key of the peer; `undefined` when absent. */
export type ReadKey = (key: string) => Promise<string | undefined>;

/**
 * Parses an unsigned decimal key (`xenbus_read_unsigned`).
 * @throws BlockError `EPROTO` for anything else, or a value above `max`
 */
export function parseUnsigned(text: string, key: string, max = Number.MAX_SAFE_INTEGER): number {
  const value = /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value <= max)) {
    throw new BlockError('EPROTO', `${key} is ${JSON.stringify(text)}, not a number up to ${max}`);
  }
  return value;
}

async function optional(read: ReadKey, key: string, fallback: number, max?: number) {
  const text = await read(key);
  return text === undefined ? fallback : parseUnsigned(text, key, max);
}

async function required(read: ReadKey, key: string, max?: number): Promise<number> {
  const text = await read(key);
  if (text === undefined) throw new BlockError('EPROTO', `the backend wrote no ${key}`);
  return parseUnsigned(text, key, max);
}

/** What a frontend learns from the backend's InitWait keys. */
export async function readTransportLimits(read: ReadKey): Promise<TransportLimits> {
  return {
    maxIndirectSegments: await optional(read, 'feature-max-indirect-segments', 0),
    maxQueues: Math.max(1, await optional(read, 'multi-queue-max-queues', 1)),
    maxRingPageOrder: await optional(read, 'max-ring-page-order', 0, 8),
    persistent: (await optional(read, 'feature-persistent', 0)) !== 0,
  };
}

/** The disk as the backend described it with Connected. */
export interface DiskDescription {
  /** Size in 512-byte sectors. */
  readonly sectors: number;
  /**
   * Logical sector size in bytes (`sector-size`): reads and writes must be whole multiples of
   * it, though blkif still counts in 512-byte sectors.
   */
  readonly sectorSize: number;
  /** Physical sector size in bytes; writes aligned to it avoid read-modify-write on the disk. */
  readonly physicalSectorSize: number;
  /** `VDISK_READONLY`: writes and discards fail with `EROFS`. */
  readonly readOnly: boolean;
  /** `VDISK_REMOVABLE`: the medium may change. */
  readonly removable: boolean;
  /** `VDISK_CDROM`: the disk is a CD-ROM. */
  readonly cdrom: boolean;
  /** How to flush: `feature-flush-cache`, else `feature-barrier`, else none (writes through). */
  readonly flush: 'flush' | 'barrier' | undefined;
  /** The backend accepts discards (`feature-discard`). */
  readonly discard: boolean;
  /** Both ends reuse grants. */
  readonly persistent: boolean;
  /** Segments per indirect request (0: none). */
  readonly maxIndirectSegments: number;
}

/**
 * Reads what the backend published with Connected.
 * @throws BlockError `EPROTO` when `sectors`, `info` or `sector-size` is missing or malformed,
 *   or a sector size is not a power of two from 512
 */
export async function readDiskDescription(read: ReadKey): Promise<DiskDescription> {
  const sectors = await required(read, 'sectors');
  const info = await required(read, 'info', 0xffffffff);
  const sectorSize = await required(read, 'sector-size', 65536);
  const physicalSectorSize = await optional(read, 'physical-sector-size', sectorSize, 65536);
  for (const size of [sectorSize, physicalSectorSize]) {
    if (size < SECTOR_SIZE || (size & (size - 1)) !== 0) {
      throw new BlockError('EPROTO', `the backend's sector size ${size} is not a power of two`);
    }
  }
  const on = async (key: string) => (await optional(read, key, 0)) !== 0;
  return {
    sectors,
    sectorSize,
    physicalSectorSize,
    readOnly: (info & VdiskInfo.readOnly) !== 0,
    removable: (info & VdiskInfo.removable) !== 0,
    cdrom: (info & VdiskInfo.cdrom) !== 0,
    flush: (await on('feature-flush-cache'))
      ? 'flush'
      : (await on('feature-barrier'))
        ? 'barrier'
        : undefined,
    discard: await on('feature-discard'),
    persistent: await on('feature-persistent'),
    maxIndirectSegments: await optional(read, 'feature-max-indirect-segments', 0, 0xffff),
  };
}

/** Linux's blkback's transport limits, the backend's defaults. */
export const DEFAULT_TRANSPORT_LIMITS: TransportLimits = {
  maxIndirectSegments: DEFAULT_MAX_INDIRECT_SEGMENTS,
  maxQueues: 4,
  maxRingPageOrder: 4,
  persistent: true,
};
