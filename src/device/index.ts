/**
 * `xenwire/device`: access to Xen's devices through the native addon — loading the addon,
 * `mmap` of files and devices, gntdev (mapping pages other domains granted) and gntalloc
 * (granting pages of this domain). Event channels, which also use the addon, are
 * `xenwire/evtchn`.
 *
 * @packageDocumentation
 */
export { CodedError, DeviceError, type DeviceErrorCode, isDeviceError } from './errors.ts';
export {
  GrantMapper,
  type GrantMapping,
  GrantSharer,
  type UnmapNotify,
} from './grant-devices.ts';
export { MappedFile } from './mapped-file.ts';
export { type MapOptions, mapFd, mapFile, unmap } from './mapping.ts';
export {
  type FdWatch,
  type FileMapHandle,
  isNativeAvailable,
  loadNative,
  type NativeAbi,
  type NativeLayout,
  nativeAddonPath,
  type VchanPumpHandle,
  VchanPumpState,
  type XenwireNative,
} from './native.ts';
