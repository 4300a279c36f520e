/**
 * `xenwire`: Xen's control-plane protocols for Node.js.
 *
 * Each area has its own entry point — `xenwire/xenstore` (the client, the codec and the client
 * ends of the transports, each also on its own: {@link "xenstore/client" | xenwire/xenstore/client},
 * {@link "xenstore/codec" | xenwire/xenstore/codec},
 * {@link "xenstore/transports" | xenwire/xenstore/transports}),
 * {@link "xenstore/server" | xenwire/xenstore/server} (the in-memory xenstored),
 * {@link ring | xenwire/ring}, {@link evtchn | xenwire/evtchn}, {@link device | xenwire/device}
 * — and is also reachable here as a namespace (`xenstore`, `xenstoreServer`, `ring`, `evtchn`,
 * `device`). The xenstore client and server, which most programs start with, are exported by
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
