import { isWireErrorName, type WireErrorName } from './constants.ts';
import { XenstoreError } from './errors.ts';
import { MESSAGES, MessageType } from './messages.ts';
import { joinStrings, OK_PAYLOAD, splitStrings, toText } from './payload.ts';
import { formatPermission, type Permission } from './permissions.ts';
import type { ReplyShape } from './reply-shapes.ts';
import type { RequestIds, RequestOp } from './requests.ts';
import type { Message } from './wire.ts';

/**
 * Replies, both ways: parsers for clients (`decodeReply`, by the reply shapes of the table of
 * {@link MESSAGES}) and builders for servers. A reply has the request's type (or ERROR) and
 * echoes its `req_id` and `tx_id`.
 */

/**
 * A watch firing: the changed path and the watch's token.
 * @category Codec
 */
export interface WatchEvent {
  /** The path that changed, relative when the watch's path was. */
  readonly path: string;
  /** The token given when the watch was registered. */
  readonly token: string;
}

/**
 * The decoded reply of `Op`: the value for value-carrying requests, `undefined` for `OK`.
 * @category Codec
 */
export type ReplyValue<Op extends RequestOp> =
  (typeof MESSAGES)[Op]['reply'] extends ReplyShape<infer Value> ? Value : never;

/**
 * Decodes the reply to a request of type `op`. Throws the server's error as a
 * {@link XenstoreError} with that code, and `EPROTO` for a reply that breaks the grammar.
 * @category Codec
 */
export function decodeReply<Op extends RequestOp>(op: Op, message: Message): ReplyValue<Op> {
  if (message.type === MessageType.ERROR) throw decodeError(message.payload, op);
  if (message.type !== MessageType[op]) {
    throw new XenstoreError('EPROTO', `${op} answered with type ${message.type}`, op);
  }
  return (MESSAGES[op].reply as ReplyShape<ReplyValue<Op>>).decode(message.payload, op);
}

/**
 * Turns an ERROR payload into an error; unknown names become EINVAL, as libxenstore does.
 * @category Codec
 */
export function decodeError(payload: Uint8Array, op?: string, path?: string): XenstoreError {
  const name = toText(payload).replace(/\0$/, '');
  if (isWireErrorName(name)) return new XenstoreError(name, undefined, op, path);
  return new XenstoreError('EINVAL', `unknown error ${JSON.stringify(name)}`, op, path);
}

/**
 * Parses a WATCH_EVENT payload `path\0token\0`.
 * @category Codec
 */
export function decodeWatchEvent(payload: Uint8Array): WatchEvent {
  const strings = splitStrings(payload);
  if (!strings || strings.length < 2) {
    throw new XenstoreError('EPROTO', 'malformed WATCH_EVENT', 'WATCH_EVENT');
  }
  return { path: strings[0]!, token: strings[1]! };
}

/**
 * A successful reply carrying `payload` (default `OK\0`) for a request of type `type`.
 * @category Codec
 */
export function replyMessage(
  type: number,
  ids: RequestIds,
  payload: Uint8Array = OK_PAYLOAD,
): Message {
  return { type, reqId: ids.reqId, txId: ids.txId, payload };
}

/**
 * An ERROR reply naming `code`.
 * @category Codec
 */
export function errorMessage(ids: RequestIds, code: WireErrorName): Message {
  return {
    type: MessageType.ERROR,
    reqId: ids.reqId,
    txId: ids.txId,
    payload: joinStrings([code]),
  };
}

/**
 * A WATCH_EVENT message; its `req_id` and `tx_id` are always 0.
 * @category Codec
 */
export function watchEventMessage(event: WatchEvent): Message {
  return {
    type: MessageType.WATCH_EVENT,
    reqId: 0,
    txId: 0,
    payload: joinStrings([event.path, event.token]),
  };
}

/** DIRECTORY payload: each name nul-terminated; none at all is empty. */
export function listPayload(names: readonly string[]): Buffer {
  return joinStrings(names);
}

/** GET_PERMS payload. */
export function permissionsPayload(perms: readonly Permission[]): Buffer {
  return joinStrings(perms.map(formatPermission));
}

/** TRANSACTION_START, GET_DOMAIN_PATH, GET_FEATURE, GET_QUOTA payload: one string. */
export function stringPayload(text: string): Buffer {
  return joinStrings([text]);
}

/** IS_DOMAIN_INTRODUCED payload. */
export function booleanPayload(value: boolean): Buffer {
  return joinStrings([value ? 'T' : 'F']);
}

/**
 * DIRECTORY_PART payload: the generation, then the bytes of the nul-separated child list from
 * `offset` on, cut at a name boundary so that the reply fits in `room` bytes, plus one more nul if
 * the slice reaches the end.
 */
export function directoryPartPayload(
  generation: string,
  childList: Uint8Array,
  offset: number,
  room: number,
): Buffer {
  const head = joinStrings([generation]);
  const rest = childList.subarray(Math.min(offset, childList.length));
  const budget = room - head.length;
  if (rest.length + 1 <= budget) {
    return Buffer.concat([head, rest, Buffer.of(0)]);
  }
  // Keep whole names only: cut after the last nul that fits.
  const cut = rest.subarray(0, budget).lastIndexOf(0) + 1;
  return Buffer.concat([head, rest.subarray(0, cut)]);
}
