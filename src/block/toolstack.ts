import { createDevice, type DevicePaths } from '../xenbus/index.ts';
import type { XenstoreClient } from '../xenstore/index.ts';
import { VBD_DEVICE_TYPE } from './blkback.ts';
import { virtualDeviceName } from './vdev.ts';

/** A block device to add, as `xl block-attach` describes one. */
export interface BlockDeviceSpec {
  /** The guest that gets the disk. */
  readonly frontendDomid: number;
  /** The driver domain (default 0). */
  readonly backendDomid?: number;
  /** `virtual-device` (see `parseVirtualDevice`). */
  readonly devid: number;
  /**
   * The backend's directory type (default `vbd`, which the driver domain's kernel `xen-blkback`
   * claims; a userspace backend alongside it needs another, e.g. `vbd-xenwire`).
   */
  readonly backendType?: string;
  /**
   * The frontend's directory type (default `vbd`, which the guest's kernel `xen-blkfront`
   * claims; a userspace frontend alongside it needs another).
   */
  readonly frontendType?: string;
  /** What the backend serves, for people and scripts reading the store (`params`). */
  readonly params?: string;
  /** Attach read-only: the backend's `mode` is `r` rather than `w` (default false). */
  readonly readOnly?: boolean;
  /** More backend keys (a kernel backend's `physical-device`, …). */
  readonly backend?: Readonly<Record<string, string>>;
}

/**
 * The toolstack's part of adding a disk to a guest, with the keys libxl writes: the frontend's
 * `virtual-device` and `device-type`, the backend's `mode`, `params`, `dev`, `type`,
 * `removable`, `bootable`. Linux's blkfront needs `virtual-device`; Linux's blkback needs `dev`
 * (it names its threads after it, and will not start them without) and `physical-device`.
 */
export function createBlockDevice(
  client: XenstoreClient,
  spec: BlockDeviceSpec,
): Promise<DevicePaths> {
  const name = virtualDeviceName(spec.devid) ?? String(spec.devid);
  return createDevice(
    client,
    {
      type: spec.frontendType ?? VBD_DEVICE_TYPE,
      backendType: spec.backendType ?? VBD_DEVICE_TYPE,
      frontendDomid: spec.frontendDomid,
      backendDomid: spec.backendDomid ?? 0,
      devid: spec.devid,
    },
    {
      frontend: { 'virtual-device': String(spec.devid), 'device-type': 'disk' },
      backend: {
        mode: spec.readOnly ? 'r' : 'w',
        params: spec.params ?? '',
        type: 'phy',
        dev: name,
        removable: '0',
        bootable: '1',
        ...spec.backend,
      },
    },
  );
}
