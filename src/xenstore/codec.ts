/**
 * `xenwire/xenstore/codec`: the xenstore wire protocol as bytes — the header and
 * {@link MessageFramer}, the table of message types ({@link MESSAGES}), requests and replies
 * encoded and decoded, payloads, paths, permissions, errno names, and {@link XenstoreError},
 * which every part of xenstore throws. `xenwire/xenstore` exports all of it too.
 *
 * @module xenstore/codec
 */

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
  decodeHeader,
  decodeMessage,
  encodeMessage,
  type FramedMessage,
  type Header,
  type Message,
  type OutgoingMessage,
  writeHeader,
} from './wire.ts';
