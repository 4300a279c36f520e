export { ByteRing, type ByteRingLayout } from './byte-ring.ts';
export {
  ConsoleRing,
  type ConsoleRingOptions,
  XENCONS_IN_LAYOUT,
  XENCONS_OUT_LAYOUT,
  XenconsConnection,
  XenconsOffset,
} from './console.ts';
export { RingError, type RingErrorCode, RingIndexError } from './errors.ts';
export { FlexIntfOffset, FlexRing, type FlexRingOptions, flexRingSize } from './flex-ring.ts';
export { RingArea, type RingBuffer, XEN_PAGE_SIZE } from './memory.ts';
export { AtomicsEvent, type Notify } from './notify.ts';
export {
  BackRing,
  defineRing,
  FrontRing,
  RingType,
  ringEntries,
  SRING_HEADER_SIZE,
  SringOffset,
  type SringPlacement,
} from './sring.ts';
export {
  Vchan,
  type VchanData,
  VchanLive,
  VchanNotify,
  VchanOffset,
  type VchanOptions,
} from './vchan.ts';
export {
  XENSTORE_HEADER_SIZE,
  XENSTORE_PAYLOAD_MAX,
  XENSTORE_REQ_LAYOUT,
  XENSTORE_RING_SIZE,
  XENSTORE_RSP_LAYOUT,
  XenstoreConnection,
  XenstoreError,
  XenstoreFeature,
  XenstoreOffset,
  XenstoreRing,
  type XenstoreRingOptions,
  type XenstoreRole,
} from './xenstore.ts';
