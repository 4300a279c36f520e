/**
 * `xenwire/xenstore`: the xenstore wire protocol for a client program, in one import — all of
 * {@link "xenstore/client" | xenwire/xenstore/client} (the client, its pool, transactions,
 * watches) and {@link "xenstore/codec" | xenwire/xenstore/codec} (header, framer, message types,
 * requests, replies, payloads, paths, permissions, errors), and the client ends of
 * {@link "xenstore/transports" | xenwire/xenstore/transports}. Each of those is documented on
 * its own page. The in-memory server and the server ends of the transports are
 * {@link "xenstore/server" | xenwire/xenstore/server}.
 *
 * @packageDocumentation
 */

export * from './client/index.ts';
export * from './codec.ts';
export {
  type ByteStream,
  type ByteStreamHandlers,
  type DeviceIo,
  defaultConnector,
  defaultSocketPath,
  framedTransport,
  type InProcessServer,
  inProcessConnector,
  nodeDeviceIo,
  type RingTransportOptions,
  ringConnector,
  socketConnector,
  type Transport,
  type TransportConnector,
  type TransportHandlers,
  XENBUS_DEVICE_PATH,
  xenbusDeviceConnector,
} from './transport/index.ts';
