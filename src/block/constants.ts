/**
 * The numbers of `xen/include/public/io/blkif.h`: operations, response statuses, `info` bits,
 * and the limits both ends agree on.
 */

/** Request operations (`BLKIF_OP_*`). */
export const BlkifOp = {
  /** Read the segments' sectors from the disk into the granted pages. */
  read: 0,
  /** Write the granted pages' sectors to the disk. */
  write: 1,
  /** Writes issued before it complete first, writes after wait for it (`feature-barrier`). */
  writeBarrier: 2,
  /** Commit the backend's volatile write cache (`feature-flush-cache`). */
  flushDiskcache: 3,
  /** Reserved (SLES). */
  reserved1: 4,
  /** Mark sectors unused (`feature-discard`). */
  discard: 5,
  /** A read or write whose segments are in granted pages (`feature-max-indirect-segments`). */
  indirect: 6,
} as const;
export type BlkifOp = (typeof BlkifOp)[keyof typeof BlkifOp];

/** Response statuses (`BLKIF_RSP_*`). */
export const BlkifStatus = {
  /** The request was carried out. */
  okay: 0,
  /** The request failed (Linux's -EIO). */
  error: -1,
  /** The operation is not supported. */
  notSupported: -2,
} as const;
export type BlkifStatus = (typeof BlkifStatus)[keyof typeof BlkifStatus];

/** Bits of the backend's `info` key (`VDISK_*`). */
export const VdiskInfo = {
  /** The disk is a CD-ROM (Linux then makes it a `sr`-style device). */
  cdrom: 0x1,
  /** The medium may change under the frontend. */
  removable: 0x2,
  /** Writes and discards are refused; the frontend opens the disk read-only. */
  readOnly: 0x4,
} as const;

/** `BLKIF_DISCARD_SECURE`: the discarded sectors must be unrecoverable. */
export const BLKIF_DISCARD_SECURE = 1;

/** Segments in a request's own slot (`BLKIF_MAX_SEGMENTS_PER_REQUEST`). */
export const MAX_SEGMENTS_PER_REQUEST = 11;

/** Indirect pages one request may name (`BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST`). */
export const MAX_INDIRECT_PAGES_PER_REQUEST = 8;

/** Bytes of a `struct blkif_request_segment`, in a slot or in an indirect page. */
export const SEGMENT_SIZE = 8;

/** Segments an indirect page holds (4096 / 8). */
export const SEGMENTS_PER_INDIRECT_PAGE = 512;

/** Indirect segments Linux's blkback offers (`MAX_INDIRECT_SEGMENTS`): one indirect page. */
export const DEFAULT_MAX_INDIRECT_SEGMENTS = 256;

/** blkif counts sectors in 512-byte units, whatever the disk's sector size. */
export const SECTOR_SIZE = 512;

/** Sectors in a 4 KiB page: a segment's `last_sect` is below this. */
export const SECTORS_PER_PAGE = 8;

/** The `protocol` key's values (`XEN_IO_PROTO_ABI_*`, `io/protocols.h`). */
export const BlkifProtocol = {
  /** 64-bit x86 guests' layout (`id` at 8, 112-byte requests). */
  x86_64: 'x86_64-abi',
  /**
   * 32-bit x86 guests' layout (`id` at 4, 108-byte requests); also what a backend assumes of a
   * frontend that writes no `protocol` key.
   */
  x86_32: 'x86_32-abi',
} as const;
export type BlkifProtocol = (typeof BlkifProtocol)[keyof typeof BlkifProtocol];
