import { MessageType, type MessageTypeName, messageTypeName } from './constants.ts';
import { XenstoreError } from './errors.ts';
import { atoi, atou } from './numbers.ts';
import { indexOfNul, joinStrings, requestStrings, splitStrings, toText } from './payload.ts';
import { formatPermission, type Permission, parsePermissions } from './permissions.ts';
import type { Message } from './wire.ts';

/**
 * Every request a client can send, as data. `encodeRequest` turns one into wire bytes;
 * `decodeRequest` parses a received message back (what a server does), checking the payload
 * grammar of `docs/misc/xenstore.txt`.
 */
export type Request =
  | { readonly op: 'READ' | 'MKDIR' | 'RM' | 'DIRECTORY' | 'GET_PERMS'; readonly path: string }
  | { readonly op: 'WRITE'; readonly path: string; readonly value: Uint8Array }
  | { readonly op: 'DIRECTORY_PART'; readonly path: string; readonly offset: number }
  | { readonly op: 'SET_PERMS'; readonly path: string; readonly perms: readonly Permission[] }
  | { readonly op: 'WATCH'; readonly path: string; readonly token: string; readonly depth?: number }
  | { readonly op: 'UNWATCH'; readonly path: string; readonly token: string }
  | { readonly op: 'TRANSACTION_START' }
  | { readonly op: 'TRANSACTION_END'; readonly commit: boolean }
  | {
      readonly op: 'INTRODUCE';
      readonly domid: number;
      /** The guest frame of the domain's ring page (sent as signed decimal). */
      readonly gfn: bigint | number;
      readonly port: number;
    }
  | {
      readonly op: 'RELEASE' | 'RESUME' | 'IS_DOMAIN_INTRODUCED' | 'GET_DOMAIN_PATH';
      readonly domid: number;
    }
  | { readonly op: 'SET_TARGET'; readonly domid: number; readonly target: number }
  | { readonly op: 'RESET_WATCHES' }
  | { readonly op: 'CONTROL'; readonly args: readonly (string | Uint8Array)[] }
  /** Without `domid` the server's own features, with it a domain's. */
  | { readonly op: 'GET_FEATURE'; readonly domid?: number }
  | { readonly op: 'SET_FEATURE'; readonly domid: number; readonly value: number }
  /**
   * No argument: the names of all quotas. `quota` alone: its global value. Both: the value for
   * that domain.
   */
  | { readonly op: 'GET_QUOTA'; readonly domid?: number; readonly quota?: string }
  | {
      readonly op: 'SET_QUOTA';
      readonly domid?: number;
      readonly quota: string;
      readonly value: number;
    };

/** The operation names a client may send. */
export type RequestOp = Request['op'];

/** Header fields chosen by the sender. */
export interface RequestIds {
  readonly reqId: number;
  readonly txId: number;
}

/** Builds the payload of a request. */
export function encodeRequestPayload(request: Request): Buffer {
  switch (request.op) {
    case 'READ':
    case 'MKDIR':
    case 'RM':
    case 'DIRECTORY':
    case 'GET_PERMS':
      return joinStrings([request.path]);
    case 'WRITE': {
      const path = joinStrings([request.path]);
      return Buffer.concat([path, request.value]);
    }
    case 'DIRECTORY_PART':
      return joinStrings([request.path, String(request.offset)]);
    case 'SET_PERMS':
      return joinStrings([request.path, ...request.perms.map(formatPermission)]);
    case 'WATCH':
      return joinStrings(
        request.depth === undefined
          ? [request.path, request.token]
          : [request.path, request.token, String(request.depth)],
      );
    case 'UNWATCH':
      return joinStrings([request.path, request.token]);
    case 'TRANSACTION_START':
      // The payload is reserved; xenstored and libxenstore use a lone nul.
      return joinStrings(['']);
    case 'TRANSACTION_END':
      return joinStrings([request.commit ? 'T' : 'F']);
    case 'INTRODUCE':
      return joinStrings([String(request.domid), String(request.gfn), String(request.port)]);
    case 'RELEASE':
    case 'RESUME':
    case 'IS_DOMAIN_INTRODUCED':
    case 'GET_DOMAIN_PATH':
      return joinStrings([String(request.domid)]);
    case 'SET_TARGET':
      return joinStrings([String(request.domid), String(request.target)]);
    case 'RESET_WATCHES':
      return Buffer.alloc(0);
    case 'CONTROL':
      return joinStrings(request.args);
    case 'GET_FEATURE':
      return request.domid === undefined ? Buffer.alloc(0) : joinStrings([String(request.domid)]);
    case 'SET_FEATURE':
      return joinStrings([String(request.domid), String(request.value)]);
    case 'GET_QUOTA':
      return joinStrings(
        [request.domid, request.quota].filter((s) => s !== undefined).map((s) => String(s)),
      );
    case 'SET_QUOTA':
      return joinStrings(
        [request.domid, request.quota, request.value]
          .filter((s) => s !== undefined)
          .map((s) => String(s)),
      );
  }
}

/** Builds a whole request message. */
export function encodeRequest(request: Request, ids: RequestIds): Message {
  return {
    type: MessageType[request.op],
    reqId: ids.reqId,
    txId: ids.txId,
    payload: encodeRequestPayload(request),
  };
}

/** The path a request names, if it names one. */
export function requestPath(request: Request): string | undefined {
  return 'path' in request ? request.path : undefined;
}

const singlePath = new Set<MessageTypeName>(['READ', 'MKDIR', 'RM', 'DIRECTORY', 'GET_PERMS']);
const singleDomid = new Set<MessageTypeName>([
  'RELEASE',
  'RESUME',
  'IS_DOMAIN_INTRODUCED',
  'GET_DOMAIN_PATH',
]);

/**
 * Parses a received request. Throws `EINVAL` for a payload that breaks its type's grammar and
 * `ENOSYS` for a type that is not a request (unknown numbers, the removed 20, and the
 * server-to-client WATCH_EVENT and ERROR).
 *
 * Only the grammar is checked here; path validity, permissions and domain existence are the
 * server's business. The grammar is C xenstored's: requests of one string (paths, domids,
 * TRANSACTION_END) must be exactly that string; the others are read as the nul-terminated strings
 * they start with, bytes after the last nul ignored, and need at least as many strings as they
 * use (WATCH, UNWATCH and DIRECTORY_PART exactly as many). Numbers are read with C's `atoi` into
 * 32 bits (see `numbers.ts`): domids and offsets unsigned, the event channel signed.
 */
export function decodeRequest(message: Message): Request {
  const name = requestOpOf(message.type);
  const payload = message.payload;
  if (singlePath.has(name)) {
    // Exactly one nul, the last byte: the commonest requests, decoded without a split.
    const nul = indexOfNul(payload);
    if (nul < 0 || nul !== payload.length - 1) bad(name, 'expected one nul-terminated path');
    return { op: name as 'READ', path: toText(payload.subarray(0, nul)) };
  }
  if (singleDomid.has(name)) {
    const strings = splitStrings(payload);
    if (strings?.length !== 1) bad(name, 'expected one nul-terminated domid');
    return { op: name as 'RELEASE', domid: atou(strings![0]!) };
  }
  switch (name) {
    case 'WRITE': {
      const nul = indexOfNul(payload);
      if (nul < 0) bad(name, 'path is not nul-terminated');
      return {
        op: 'WRITE',
        path: toText(payload.subarray(0, nul)),
        value: payload.subarray(nul + 1),
      };
    }
    case 'DIRECTORY_PART': {
      const strings = requestStrings(payload);
      if (strings.length !== 2) bad(name, 'expected path and offset');
      // An offset atoi reads as negative is past the end of every list.
      return { op: 'DIRECTORY_PART', path: strings[0]!, offset: atou(strings[1]!) };
    }
    case 'SET_PERMS': {
      const strings = requestStrings(payload);
      if (strings.length < 2) bad(name, 'expected path and at least one permission');
      return {
        op: 'SET_PERMS',
        path: strings[0]!,
        perms: parsePermissions(strings.slice(1)),
      };
    }
    case 'WATCH':
    case 'UNWATCH': {
      const strings = requestStrings(payload);
      const max = name === 'WATCH' ? 3 : 2;
      if (strings.length < 2 || strings.length > max) bad(name, 'expected path and token');
      const [path, token, depthText] = strings as [string, string, string?];
      if (name === 'UNWATCH') return { op: 'UNWATCH', path, token };
      if (depthText === undefined) return { op: 'WATCH', path, token };
      const depth = atoi(depthText);
      if (depth < 0) bad(name, 'depth is negative');
      return { op: 'WATCH', path, token, depth };
    }
    case 'TRANSACTION_START':
      return { op: 'TRANSACTION_START' };
    case 'TRANSACTION_END': {
      const text = toText(payload);
      if (text !== 'T\0' && text !== 'F\0') bad(name, 'expected T or F');
      return { op: 'TRANSACTION_END', commit: text === 'T\0' };
    }
    case 'INTRODUCE': {
      const strings = requestStrings(payload);
      if (strings.length < 3) bad(name, 'expected domid, gfn and event channel');
      return {
        op: 'INTRODUCE',
        domid: atou(strings[0]!),
        // Not a number C reads (it ignores the gfn): kept as sent, for dumps.
        gfn: BigInt(/^\s*([+-]?\d+)/.exec(strings[1]!)?.[1] ?? 0),
        port: atoi(strings[2]!),
      };
    }
    case 'SET_TARGET': {
      const strings = requestStrings(payload);
      if (strings.length < 2) bad(name, 'expected domid and target');
      return { op: 'SET_TARGET', domid: atou(strings[0]!), target: atou(strings[1]!) };
    }
    case 'RESET_WATCHES':
      return { op: 'RESET_WATCHES' };
    case 'CONTROL': {
      const strings = requestStrings(payload);
      if (strings.length === 0) bad(name, 'expected a command');
      return { op: 'CONTROL', args: strings };
    }
    case 'GET_FEATURE': {
      const strings = requestStrings(payload);
      if (strings.length > 1) bad(name, 'expected at most a domid');
      return strings.length === 0
        ? { op: 'GET_FEATURE' }
        : { op: 'GET_FEATURE', domid: atou(strings[0]!) };
    }
    case 'SET_FEATURE': {
      const strings = requestStrings(payload);
      if (strings.length !== 2) bad(name, 'expected domid and value');
      return { op: 'SET_FEATURE', domid: atou(strings[0]!), value: atou(strings[1]!) };
    }
    case 'GET_QUOTA': {
      const strings = requestStrings(payload);
      if (strings.length > 2) bad(name, 'expected at most domid and quota name');
      if (strings.length === 0) return { op: 'GET_QUOTA' };
      if (strings.length === 1) return { op: 'GET_QUOTA', quota: strings[0]! };
      return { op: 'GET_QUOTA', domid: atou(strings[0]!), quota: strings[1]! };
    }
    case 'SET_QUOTA': {
      const strings = requestStrings(payload);
      if (strings.length < 2 || strings.length > 3) bad(name, 'expected quota and value');
      const value = atou(strings[strings.length - 1]!);
      return strings.length === 2
        ? { op: 'SET_QUOTA', quota: strings[0]!, value }
        : { op: 'SET_QUOTA', domid: atou(strings[0]!), quota: strings[1]!, value };
    }
    default:
      throw new XenstoreError('ENOSYS', `type ${message.type} is not a request`);
  }
}

// A module function rather than a closure per request: decoding is on the server's hot path.
function bad(name: RequestOp, why: string): never {
  throw new XenstoreError('EINVAL', `${name}: ${why}`, name);
}

function requestOpOf(type: number): RequestOp {
  const name = messageTypeName(type);
  if (name === undefined || name === 'WATCH_EVENT' || name === 'ERROR' || name === 'INVALID') {
    throw new XenstoreError('ENOSYS', `type ${type} is not a request`);
  }
  return name;
}
