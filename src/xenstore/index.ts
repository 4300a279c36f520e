/**
 * `xenwire/xenstore`: the xenstore wire protocol — the client (pipelined, over every transport),
 * its pool, the codec (header, framer, the table of message types, requests, replies, payloads,
 * paths, permissions), errors, and the client ends of the transports. The in-memory server and
 * the server ends of the transports are `xenwire/xenstore/server`.
 *
 * @packageDocumentation
 */

export type { BusyPoll } from '../event-loop/busy-poller.ts';
export type { NodeOperations, ReadOptions, RequestOptions } from './client/node-operations.ts';
export { Transaction, type TransactionOptions } from './client/transaction.ts';
export type { WaitCondition, XenstoreWaitOptions } from './client/wait.ts';
export type { WalkEntry } from './client/walk.ts';
export { Watch, type WatchEvents, type XenstoreWatchEvent } from './client/watch.ts';
export {
  type ReconnectInfo,
  type ReconnectOptions,
  type WatchOptions,
  XenstoreClient,
  type XenstoreClientEvents,
  type XenstoreClientOptions,
} from './client.ts';
export {
  ABS_PATH_MAX,
  ERRNO,
  HEADER_SIZE,
  isWireErrorName,
  PAYLOAD_MAX,
  REL_PATH_MAX,
  WIRE_ERRORS,
  type WireErrorName,
} from './constants.ts';
export {
  isXenstoreError,
  XenstoreError,
  type XenstoreErrorCode,
  type XenstoreErrorOptions,
} from './errors.ts';
export { MessageFramer } from './framer.ts';
export {
  MESSAGES,
  type MessageRow,
  MessageType,
  type MessageTypeName,
  messageTypeName,
  REMOVED_RESTRICT_TYPE,
  type RequestName,
  TYPE_COUNT,
} from './messages.ts';
export {
  assertValidPath,
  assertValidWatchPath,
  baseName,
  domainPath,
  isAbsolutePath,
  isSpecialPath,
  isSubpath,
  joinPath,
  parentPath,
  pathProblem,
  relativize,
  resolvePath,
} from './paths.ts';
export { joinStrings, OK_PAYLOAD, splitStrings, toBytes, toText } from './payload.ts';
export {
  type Access,
  canRead,
  canWrite,
  formatPermission,
  type Permission,
  parsePermission,
  parsePermissions,
} from './permissions.ts';
export { XenstorePool, type XenstorePoolOptions } from './pool.ts';
export {
  decodeError,
  decodeReply,
  decodeWatchEvent,
  errorMessage,
  type ReplyValue,
  replyMessage,
  type WatchEvent,
  watchEventMessage,
} from './replies.ts';
export type { DirectoryPart, ReplyShape } from './reply-shapes.ts';
export type { RequestShape } from './request-shapes.ts';
export {
  decodeRequest,
  encodeRequest,
  encodeRequestPayload,
  type Request,
  type RequestIds,
  type RequestOf,
  type RequestOp,
  requestPath,
} from './requests.ts';
export {
  type ByteStream,
  type ByteStreamHandlers,
  framedTransport,
} from './transport/byte-stream.ts';
export { defaultConnector, defaultSocketPath } from './transport/default.ts';
export { type InProcessServer, inProcessConnector } from './transport/in-process.ts';
export { type RingTransportOptions, ringConnector } from './transport/ring.ts';
export { socketConnector } from './transport/socket.ts';
export type {
  Transport,
  TransportConnector,
  TransportHandlers,
} from './transport/transport.ts';
export {
  type DeviceIo,
  nodeDeviceIo,
  XENBUS_DEVICE_PATH,
  xenbusDeviceConnector,
} from './transport/xenbus-device.ts';
export {
  decodeHeader,
  decodeMessage,
  encodeMessage,
  type FramedMessage,
  type Header,
  type Message,
  type OutgoingMessage,
  writeHeader,
} from './wire.ts';
