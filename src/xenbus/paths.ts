import { XenbusError } from './errors.ts';

/** Which device: its type (`vif`, `vbd`, `vchan`, …), its two domains and its id. */
export interface DeviceId {
  /** Device type, the directory name under `device/` (and under `backend/` by default). */
  readonly type: string;
  /**
   * The directory name under `backend/` when it differs from {@link type}: a backend type the
   * driver domain's kernel does not claim (e.g. `vbd-xenwire`) lets a userspace backend serve a
   * guest whose kernel frontend still sees an ordinary `vbd`.
   */
  readonly backendType?: string;
  /** The guest whose `device/` directory holds the frontend. */
  readonly frontendDomid: number;
  /** The driver domain whose `backend/` directory holds the backend (0 for Dom0). */
  readonly backendDomid: number;
  /** Device number within the type (`devid`). */
  readonly devid: number;
}

/** Where the two ends of a device live in xenstore. */
export interface DevicePaths {
  /** `/local/domain/<fe>/device/<type>/<devid>`, owned by the frontend. */
  readonly frontend: string;
  /** `/local/domain/<be>/backend/<type>/<fe>/<devid>`, owned by the backend. */
  readonly backend: string;
}

function checkDomid(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value >= 0x7ff0) {
    throw new XenbusError('EINVAL', `${what} ${String(value)} is not a domain id`);
  }
}

/**
 * The directories of a device as Xen's toolstack (libxl) lays them out.
 * @throws XenbusError `EINVAL` for a bad type, domid or devid
 */
export function devicePaths(id: DeviceId): DevicePaths {
  const backendType = id.backendType ?? id.type;
  for (const type of [id.type, backendType]) {
    if (!/^[A-Za-z0-9_-]+$/.test(type)) {
      throw new XenbusError('EINVAL', `device type ${JSON.stringify(type)} is not a path element`);
    }
  }
  checkDomid(id.frontendDomid, 'frontend');
  checkDomid(id.backendDomid, 'backend');
  if (!Number.isInteger(id.devid) || id.devid < 0) {
    throw new XenbusError('EINVAL', `devid ${String(id.devid)} is not a device number`);
  }
  return {
    frontend: `/local/domain/${id.frontendDomid}/device/${id.type}/${id.devid}`,
    backend: `/local/domain/${id.backendDomid}/backend/${backendType}/${id.frontendDomid}/${id.devid}`,
  };
}
