/**
 * `xenwire/block`: Xen's paravirtual block device (blkif) on the xenbus device API. A backend
 * ({@link openBlkback}) serves any {@link BlockDisk} — a raw image ({@link FileDisk}), memory
 * ({@link MemoryDisk}) — to a frontend in another domain, Linux's `xen-blkfront` included; a
 * frontend ({@link openBlkfront}) gives a Node program `read`, `write`, `flush` and `discard` on a
 * disk served by any blkif backend, Linux's `xen-blkback` included. Both speak the whole
 * protocol Linux's drivers negotiate: indirect segments, persistent grants, multi-page rings,
 * several queues, both x86 ABIs; the backend checks every request before it reaches the disk.
 *
 * @packageDocumentation
 */

export type { BlkbackStats } from './backend-queue.ts';
export {
  Blkback,
  type BlkbackConnection,
  type BlkbackEvents,
  type BlkbackOptions,
  openBlkback,
  VBD_DEVICE_TYPE,
} from './blkback.ts';
export {
  Blkfront,
  type BlkfrontEvents,
  type BlkfrontInfo,
  type BlkfrontOptions,
  openBlkfront,
} from './blkfront.ts';
export {
  BLKIF_DISCARD_SECURE,
  BlkifOp,
  BlkifProtocol,
  BlkifStatus,
  DEFAULT_MAX_INDIRECT_SEGMENTS,
  MAX_INDIRECT_PAGES_PER_REQUEST,
  MAX_SEGMENTS_PER_REQUEST,
  SECTOR_SIZE,
  SEGMENTS_PER_INDIRECT_PAGE,
  VdiskInfo,
} from './constants.ts';
export type { BlockDisk } from './disk.ts';
export { BlockError, type BlockErrorCode, isBlockError } from './errors.ts';
export type { DiskDescription, TransportLimits } from './features.ts';
export { FileDisk, type FileDiskOptions } from './file-disk.ts';
export {
  abiOfProtocol,
  BLKIF_ABIS,
  type BlkifAbi,
  type BlkifDiscardRequest,
  type BlkifIndirectRequest,
  type BlkifOtherRequest,
  type BlkifRequest,
  type BlkifResponse,
  type BlkifRwRequest,
  type BlkifSegment,
  decodeBlkifRequest,
  decodeBlkifResponse,
  decodeSegments,
  encodeBlkifRequest,
  encodeBlkifResponse,
  encodeSegments,
  RESPONSE_SIZE,
} from './layout.ts';
export { MemoryDisk, type MemoryDiskOptions } from './memory-disk.ts';
export {
  type BackendLimits,
  checkRequest,
  checkSegments,
  type DiscardPlan,
  type IoPlan,
  type Refusal,
  type RequestVerdict,
} from './request-validator.ts';
export { type BlockDeviceSpec, createBlockDevice } from './toolstack.ts';
export { parseVirtualDevice, virtualDeviceName } from './vdev.ts';
