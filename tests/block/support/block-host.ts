import {
  type Blkback,
  type BlkbackOptions,
  type Blkfront,
  type BlkfrontOptions,
  type BlockDisk,
  openBlkback,
  openBlkfront,
} from '../../../src/block/index.ts';
import { createSimulatedHost, type SimulatedHost } from '../../../src/host/index.ts';
import {
  createDevice,
  type DeviceId,
  type DevicePlatform,
  simulatedPlatform,
} from '../../../src/xenbus/index.ts';

/** A simulated host with one guest (domain 1) and a vbd from it to dom0, sized for block I/O. */
export interface BlockHost {
  readonly host: SimulatedHost;
  readonly id: DeviceId;
  readonly dom0: DevicePlatform;
  readonly guest: DevicePlatform;
  close(): Promise<void>;
}

/** Grants per domain: rings, a pool of data pages, indirect pages. */
export const BLOCK_GRANTS = 2048;

export async function blockHost(devid = 51712): Promise<BlockHost> {
  const host = await createSimulatedHost({
    guests: 1,
    hypervisor: { maxDomains: 4, grantsPerDomain: BLOCK_GRANTS },
  });
  const id: DeviceId = { type: 'vbd', frontendDomid: 1, backendDomid: 0, devid };
  await createDevice(host.dom0Client, id);
  const dom0 = simulatedPlatform(host.hypervisor, 0);
  const guest = simulatedPlatform(host.hypervisor, 1);
  return {
    host,
    id,
    dom0,
    guest,
    async close() {
      dom0.close();
      guest.close();
      await host.close();
    },
  };
}

/** Both ends of the device, connected. */
export async function connectPair(
  env: BlockHost,
  disk: BlockDisk,
  backend: Partial<BlkbackOptions> = {},
  frontend: Partial<BlkfrontOptions> = {},
): Promise<{ back: Blkback; front: Blkfront }> {
  const [back, front] = await Promise.all([
    openBlkback({
      client: env.host.dom0Client,
      platform: env.dom0,
      frontendDomid: 1,
      devid: env.id.devid,
      disk,
      timeoutMs: 5000,
      ...backend,
    }),
    openBlkfront({
      client: env.host.guest(1).client,
      platform: env.guest,
      devid: env.id.devid,
      timeoutMs: 5000,
      ...frontend,
    }),
  ]);
  return { back, front };
}
