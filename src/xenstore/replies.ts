import { isWireErrorName, MessageType, type WireErrorName } from './constants.ts';
import { XenstoreError } from './errors.ts';
import { joinStrings, OK_PAYLOAD, splitStrings, toText } from './payload.ts';
import { formatPermission, type Permission, parsePermission } from './permissions.ts';
import type { RequestIds, RequestOp } from './requests.ts';
import type { Message } from './wire.ts';

/**
 * Replies, both ways: parsers for clients (`decodeReply`) and builders for servers. A reply has
 * the request's type (or ERROR) and echoes its `req_id` and `tx_id`.
 */

/** One slice of a DIRECTORY_PART listing. */
export interface DirectoryPart {
  /** The node's generation count, as the server printed it; compare slices with it. */
  readonly generation: string;
  /** Child names in this slice. */
  readonly children: string[];
  /** True when this slice ends the list. */
  readonly complete: boolean;
  /** Bytes of the child list this slice covers: add to the offset for the next request. */
  readonly length: number;
}

/** A watch firing: the changed path and the watch's token. */
export interface WatchEvent {
  readonly path: string;
  readonly token: string;
}

/** What each request's reply decodes to. */
export interface ReplyValues {
  READ: Uint8Array;
  DIRECTORY: string[];
  DIRECTORY_PART: DirectoryPart;
  GET_PERMS: Permission[];
  TRANSACTION_START: number;
  GET_DOMAIN_PATH: string;
  IS_DOMAIN_INTRODUCED: boolean;
  /** CONTROL answers are implementation-specific bytes. */
  CONTROL: Uint8Array;
  GET_FEATURE: number;
  /** The quota names separated by spaces (no argument), or the quota's value in decimal. */
  GET_QUOTA: string;
}

/** The decoded reply of `Op`: the value for value-carrying requests, `undefined` for `OK`. */
export type ReplyValue<Op extends RequestOp> = Op extends keyof ReplyValues
  ? ReplyValues[Op]
  : undefined;

/**
 * Decodes the reply to a request of type `op`. Throws the server's error as a
 * {@link XenstoreError} with that code, and `EPROTO` for a reply that breaks the grammar.
 */
export function decodeReply<Op extends RequestOp>(op: Op, message: Message): ReplyValue<Op> {
  if (message.type === MessageType.ERROR) throw decodeError(message.payload, op);
  if (message.type !== MessageType[op]) {
    throw new XenstoreError('EPROTO', `${op} answered with type ${message.type}`, op);
  }
  return decodeValue(op, message.payload) as ReplyValue<Op>;
}

function decodeValue(op: RequestOp, payload: Uint8Array): unknown {
  switch (op) {
    case 'READ':
    case 'CONTROL':
      return payload;
    case 'DIRECTORY':
      return splitStrings(payload) ?? malformed(op);
    case 'DIRECTORY_PART':
      return decodeDirectoryPart(payload) ?? malformed(op);
    case 'GET_PERMS':
      return (splitStrings(payload) ?? malformed(op)).map(parsePermission);
    case 'TRANSACTION_START':
    case 'GET_FEATURE': {
      const text = firstString(payload, op);
      return /^\d+$/.test(text) ? Number(text) : malformed(op);
    }
    case 'GET_DOMAIN_PATH':
    case 'GET_QUOTA':
      return firstString(payload, op);
    case 'IS_DOMAIN_INTRODUCED': {
      const text = firstString(payload, op);
      return text === 'T' ? true : text === 'F' ? false : malformed(op);
    }
    default:
      // Every other request is acknowledged with `OK\0`; a few servers omit the nul.
      return isOk(payload) ? undefined : malformed(op);
  }
}

function malformed(op: RequestOp): never {
  throw new XenstoreError('EPROTO', `malformed ${op} reply`, op);
}

function firstString(payload: Uint8Array, op: RequestOp): string {
  return splitStrings(payload)?.[0] ?? malformed(op);
}

function isOk(payload: Uint8Array): boolean {
  const terminated = payload.length === 3 && payload[2] === 0;
  return (payload.length === 2 || terminated) && payload[0] === 0x4f && payload[1] === 0x4b;
}

/** Parses `generation\0child\0…[\0]`. */
function decodeDirectoryPart(payload: Uint8Array): DirectoryPart | undefined {
  const nul = payload.indexOf(0);
  if (nul < 0) return undefined;
  const generation = toText(payload.subarray(0, nul));
  const rest = payload.subarray(nul + 1);
  // The list is complete when it ends in an empty string: one extra nul after the last name.
  const complete = rest.length === 1 ? rest[0] === 0 : rest.length > 1 && rest.at(-2) === 0;
  const body = complete ? rest.subarray(0, rest.length - 1) : rest;
  const children = splitStrings(body);
  if (!children) return undefined;
  return { generation, children, complete, length: body.length };
}

/** Turns an ERROR payload into an error; unknown names become EINVAL, as libxenstore does. */
export function decodeError(payload: Uint8Array, op?: string, path?: string): XenstoreError {
  const name = toText(payload).replace(/\0$/, '');
  if (isWireErrorName(name)) return new XenstoreError(name, undefined, op, path);
  return new XenstoreError('EINVAL', `unknown error ${JSON.stringify(name)}`, op, path);
}

/** Parses a WATCH_EVENT payload `path\0token\0`. */
export function decodeWatchEvent(payload: Uint8Array): WatchEvent {
  const strings = splitStrings(payload);
  if (!strings || strings.length < 2) {
    throw new XenstoreError('EPROTO', 'malformed WATCH_EVENT', 'WATCH_EVENT');
  }
  return { path: strings[0]!, token: strings[1]! };
}

/** A successful reply carrying `payload` (default `OK\0`) for a request of type `type`. */
export function replyMessage(
  type: number,
  ids: RequestIds,
  payload: Uint8Array = OK_PAYLOAD,
): Message {
  return { type, reqId: ids.reqId, txId: ids.txId, payload };
}

/** An ERROR reply naming `code`. */
export function errorMessage(ids: RequestIds, code: WireErrorName): Message {
  return {
    type: MessageType.ERROR,
    reqId: ids.reqId,
    txId: ids.txId,
    payload: joinStrings([code]),
  };
}

/** A WATCH_EVENT message; its `req_id` and `tx_id` are always 0. */
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
