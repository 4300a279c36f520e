/**
 * `xenwire/ring`: Xen's shared-page ring protocols over an `ArrayBuffer` or `SharedArrayBuffer`
 * (shared between worker threads, or a page mapped by a native addon), byte-identical to the
 * layouts of Xen's public headers:
 *
 * - byte-stream pages: {@link XenstoreRing} (`xs_wire.h`), {@link ConsoleRing} (`console.h`),
 *   {@link FlexRing} (`ring.h` flex rings), {@link Vchan} (`libxenvchan.h`), all built on
 *   {@link ByteRing}, with {@link ByteRingOutbox} queueing what a full ring cannot take yet;
 * - request/response rings of `ring.h`: {@link defineRing}, {@link FrontRing}, {@link BackRing}.
 *
 * Nothing here waits or signals by itself: each end reports, or tells a {@link Notify}
 * callback, when the peer must be woken, and {@link AtomicsEvent} stands in for an event
 * channel between threads. Bad input and misbehaving peers raise {@link RingError}.
 */
export { ByteRing, type ByteRingLayout } from './byte-ring.ts';
export {
  ConsoleRing,
  type ConsoleRingOptions,
  XENCONS_IN_LAYOUT,
  XENCONS_OUT_LAYOUT,
  XenconsConnection,
  XenconsOffset,
} from './console.ts';
export { isRingError, RingError, type RingErrorCode, RingIndexError } from './errors.ts';
export { FlexIntfOffset, FlexRing, type FlexRingOptions, flexRingSize } from './flex-ring.ts';
export { RingArea, type RingBuffer, XEN_PAGE_SIZE } from './memory.ts';
export { AtomicsEvent, type Futex, type Notify } from './notify.ts';
export { ByteRingOutbox } from './outbox.ts';
export { ByteRingEnd } from './ring-end.ts';
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
  readVchanGrants,
  VCHAN_MAX_ORDER,
  VCHAN_MIN_ORDER,
  Vchan,
  type VchanData,
  type VchanGrants,
  VchanLive,
  type VchanMemory,
  VchanNotify,
  VchanOffset,
  type VchanOptions,
  type VchanOrders,
  vchanDataPages,
  writeVchanGrants,
} from './vchan.ts';
export {
  XENSTORE_REQ_LAYOUT,
  XENSTORE_RING_SIZE,
  XENSTORE_RSP_LAYOUT,
  XenstoreConnectionState,
  XenstoreErrorIndicator,
  XenstoreFeature,
  XenstoreOffset,
  XenstoreRing,
  type XenstoreRingOptions,
  type XenstoreRole,
} from './xenstore.ts';
