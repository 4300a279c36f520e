/**
 * `xenwire/xenbus`: Xen's split-driver model. The toolstack creates a device's two directories
 * ({@link createDevice}); the frontend ({@link XenbusFrontend}, in the guest) grants a ring and
 * offers an event channel; the backend ({@link XenbusBackend}, in the driver domain) maps and
 * binds them; both follow each other's `state` through the {@link XenbusState} handshake. The
 * same device code runs on the simulated hypervisor and on real Xen through a
 * {@link DevicePlatform}. {@link openVchanFrontend} / {@link openVchanBackend} are a complete
 * driver pair: a byte stream over vchan rings, as a `stream.Duplex` at each end.
 *
 * @packageDocumentation
 */
export { type BackendConnectOptions, type BackendOptions, XenbusBackend } from './backend.ts';
export {
  DEFAULT_TIMEOUT_MS,
  type DeviceConnection,
  DeviceEnd,
  type DeviceEndEvents,
  type DeviceEndOptions,
  type DeviceQueue,
} from './device-end.ts';
export { watchDomainDeath } from './domain-watch.ts';
export { isXenbusError, XenbusError, type XenbusErrorCode } from './errors.ts';
export {
  type FrontendConnectOptions,
  type FrontendOptions,
  type RingLayout,
  XenbusFrontend,
} from './frontend.ts';
export { readKeyIfPresent } from './keys.ts';
export { type DeviceId, type DevicePaths, devicePaths } from './paths.ts';
export type { Peer, StateDecision } from './peer-follower.ts';
export {
  contiguousPages,
  type DevicePlatform,
  type MappingOptions,
  type SharedPages,
  type SharingOptions,
} from './platform.ts';
export {
  type RingChannelEnd,
  RingDuplex,
  type RingMover,
  type RingMoverFactory,
} from './ring-duplex.ts';
export { simulatedPlatform } from './simulated-platform.ts';
export { parseXenbusState, XenbusState, xenbusStateName } from './state.ts';
export { createDevice, type DeviceKeys, removeDevice } from './toolstack.ts';
export {
  openVchanBackend,
  openVchanFrontend,
  VCHAN_DEVICE_TYPE,
  type VchanEnd,
  type VchanEndOptions,
} from './vchan-device.ts';
export { VchanStream } from './vchan-stream.ts';
export { type XenPlatformOptions, xenPlatform } from './xen-platform.ts';
