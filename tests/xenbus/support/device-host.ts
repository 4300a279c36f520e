import { createSimulatedHost, type SimulatedHost } from '../../../src/host/index.ts';
import {
  createDevice,
  type DeviceId,
  type DevicePlatform,
  simulatedPlatform,
} from '../../../src/xenbus/index.ts';

// Workers do not inherit the TypeScript loader: this entry registers it, then imports `entry`.
export const workerBootstrap = new URL(
  '../../evtchn/support/typescript-worker.mjs',
  import.meta.url,
);

/** A simulated host with one guest (domain 1) and a device of `type` from it to dom0. */
export interface DeviceHost {
  readonly host: SimulatedHost;
  readonly id: DeviceId;
  /** Dom0's platform (the backend's). */
  readonly dom0: DevicePlatform;
  /** Platforms made with {@link platformOf}, closed by {@link close}. */
  platformOf(domid: number): DevicePlatform;
  close(): Promise<void>;
}

export async function deviceHost(
  options: { type?: string; guests?: number } = {},
): Promise<DeviceHost> {
  const host = await createSimulatedHost({ guests: options.guests ?? 1 });
  const id: DeviceId = {
    type: options.type ?? 'test',
    frontendDomid: 1,
    backendDomid: 0,
    devid: 0,
  };
  // Without guests here, the caller adds the device once its guest runs.
  if ((options.guests ?? 1) > 0) await createDevice(host.dom0Client, id);
  const platforms: DevicePlatform[] = [];
  const platformOf = (domid: number) => {
    const platform = simulatedPlatform(host.hypervisor, domid);
    platforms.push(platform);
    return platform;
  };
  return {
    host,
    id,
    dom0: platformOf(0),
    platformOf,
    async close() {
      for (const platform of platforms) platform.close();
      await host.close();
    },
  };
}
