/**
 * `xenwire/xenstore/transports`: how xenstore messages travel, both ends of each way.
 *
 * - Client ends, each a {@link TransportConnector} for `XenstoreClient`: a unix socket
 *   ({@link socketConnector}), the shared ring page of a guest ({@link ringConnector}),
 *   `/dev/xen/xenbus` ({@link xenbusDeviceConnector}), a server in the same process
 *   ({@link inProcessConnector}), any byte stream ({@link framedTransport}), and the one this
 *   machine has ({@link defaultConnector}).
 * - Server ends, which serve a {@link XenstoreService} such as `XenstoreServer`: unix sockets
 *   ({@link socketListener}) and ring pages ({@link XenstoreRingServer}).
 *
 * `xenwire/xenstore` exports the client ends too, `xenwire/xenstore/server` the server ends.
 *
 * @module xenstore/transports
 */

export { type ByteStream, type ByteStreamHandlers, framedTransport } from './byte-stream.ts';
export { defaultConnector, defaultSocketPath } from './default.ts';
export { type InProcessServer, inProcessConnector } from './in-process.ts';
export { type RingTransportOptions, ringConnector } from './ring.ts';
export { pageFileMapper } from './ring-page-file.ts';
export { type PageMapper, type RingServerOptions, XenstoreRingServer } from './ring-server.ts';
export { socketConnector } from './socket.ts';
export { type Listener, type ListenOptions, socketListener } from './socket-listener.ts';
export type {
  ConnectOptions,
  DomainDirectory,
  ServedDomain,
  ServerConnectOptions,
  Transport,
  TransportConnector,
  TransportHandlers,
  XenstoreConnection,
  XenstoreService,
} from './transport.ts';
export {
  type DeviceIo,
  nodeDeviceIo,
  XENBUS_DEVICE_PATH,
  xenbusDeviceConnector,
} from './xenbus-device.ts';
