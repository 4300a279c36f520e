/**
 * `xenwire/evtchn`: event channels (libxenevtchn's model) over three backends — a simulated
 * hypervisor, the real `/dev/xen/evtchn`, and unix datagram sockets — plus the simulated
 * hypervisor's grant tables. The native addon, `mmap` and the grant devices are
 * `xenwire/device`.
 *
 * @packageDocumentation
 */
export { DOMID_FIRST_RESERVED } from '../device/domid.ts';
export { DOMID_SELF, NR_VIRQS } from './arguments.ts';
export { DeviceEventChannel, EVTCHN_DEVICE } from './device-event-channel.ts';
export { EvtchnError, type EvtchnErrorCode, isEvtchnError, toEvtchnError } from './errors.ts';
export { EventChannel, type EventChannelEvents } from './event-channel.ts';
export {
  FIRST_FREE_GRANT_REF,
  GNTTAB_RESERVED_CONSOLE,
  GNTTAB_RESERVED_XENSTORE,
  type Grant,
  type GrantOptions,
  SimulatedGrantTable,
} from './sim/grant-table.ts';
export { type PortStatus, SimulatedHypervisor } from './sim/hypervisor.ts';
export type { SharedStateLimits, WaitOptions } from './sim/shared-state.ts';
export { SimulatedEventChannel } from './sim/simulated-event-channel.ts';
export {
  IDENTITY_PORT_MAP,
  type PortMap,
  SocketEventChannel,
  type SocketEventChannelOptions,
} from './socket-event-channel.ts';
export { Virq } from './virq.ts';
