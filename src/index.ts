/**
 * `xenwire`: Xen's control-plane protocols for Node.js.
 *
 * Each area has its own entry point — `xenwire/xenstore` (the client and the codec),
 * `xenwire/xenstore/server` (the in-memory xenstored and the server ends of the transports),
 * `xenwire/ring`, `xenwire/evtchn`, `xenwire/device` — and is also reachable here as a
 * namespace. The xenstore client and server, which most programs start with, are exported by
 * name as well.
 *
 * @module xenwire
 */
export * as device from './device/index.ts';
export * as evtchn from './evtchn/index.ts';
export * as ring from './ring/index.ts';
export * as xenstore from './xenstore/index.ts';
export { isXenstoreError, XenstoreClient, XenstoreError } from './xenstore/index.ts';
export * as xenstoreServer from './xenstore/server.ts';
export { XenstoreServer } from './xenstore/server.ts';
