/**
 * `xenwire/host`: a whole simulated Xen host in one call, for protocol testing — the simulated
 * hypervisor, the in-memory xenstored serving guests over their ring pages and event channels,
 * and guest domains in this thread or in worker threads. See `README.md` here.
 *
 * @packageDocumentation
 */
export { grantPageMapper } from './grant-page-mapper.ts';
export type { GuestClientOptions, SimulatedGuest } from './guest.ts';
export { connectGuest, type GuestHandoff } from './guest-worker.ts';
export {
  createSimulatedHost,
  type GuestWorker,
  SimulatedHost,
  type SimulatedHostOptions,
} from './simulated-host.ts';
