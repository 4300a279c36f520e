import { Buffer } from 'node:buffer';
import { XenstoreError } from './errors.ts';
import { atoi, atou } from './numbers.ts';
import {
  indexOfNul,
  joinStrings,
  requestStrings,
  splitStrings,
  textBetween,
  toText,
} from './payload.ts';
import { formatPermission, type Permission, parsePermissions } from './permissions.ts';

/**
 * The payload grammars of requests (`docs/misc/xenstore.txt`), one per shape that some request
 * type has: how a request's fields become bytes (a client) and back (a server). Only the grammar
 * is checked here; path validity, permissions and domain existence are the server's business.
 */

/**
 * One request payload grammar.
 * @category Codec
 */
export interface RequestShape<Fields> {
  /**
   * The payload of a request with `fields`, placed after `headroom` bytes that are left for the
   * message header, so that the whole frame is one buffer.
   */
  encode(fields: Fields, headroom: number): Buffer;
  /** Parses a payload; EINVAL naming `op` when it breaks the grammar. */
  decode<Op extends string>(
    payload: Uint8Array,
    op: Op,
  ): {
    /** The request type, as given. */
    readonly op: Op;
  } & Fields;
}

/** A shape that encodes its fields as nul-terminated strings. */
function strings<Fields>(
  items: (fields: Fields) => readonly (string | Uint8Array)[],
  decode: RequestShape<Fields>['decode'],
): RequestShape<Fields> {
  return { encode: (fields, headroom) => joinStrings(items(fields), headroom), decode };
}

// A module function rather than a closure per request: decoding is on the server's hot path.
function bad(op: string, why: string): never {
  throw new XenstoreError('EINVAL', `${op}: ${why}`, op);
}

/** `path\0`: the commonest requests, written and read without a string split. */
export const path: RequestShape<{
  /** The node's path, absolute or relative to the connection's home. */
  readonly path: string;
}> = {
  encode: (fields, headroom) => pathAndValue(fields.path, undefined, headroom),
  decode(payload, op) {
    const nul = indexOfNul(payload);
    if (nul < 0 || nul !== payload.length - 1) bad(op, 'expected one nul-terminated path');
    return { op, path: textBetween(payload, 0, nul) };
  },
};

/** WRITE's `path\0value`: the value is raw bytes, nuls included, with no terminator. */
export const pathValue: RequestShape<{
  /** The node's path, absolute or relative to the connection's home. */
  readonly path: string;
  /** The new value, as bytes. */
  readonly value: Uint8Array;
}> = {
  encode: (fields, headroom) => pathAndValue(fields.path, fields.value, headroom),
  decode(payload, op) {
    const nul = indexOfNul(payload);
    if (nul < 0) bad(op, 'path is not nul-terminated');
    return { op, path: textBetween(payload, 0, nul), value: payload.subarray(nul + 1) };
  },
};

function pathAndValue(path: string, value: Uint8Array | undefined, headroom: number): Buffer {
  const valueLength = value?.length ?? 0;
  let pathLength = path.length;
  let out = Buffer.allocUnsafe(headroom + pathLength + 1 + valueLength);
  // Valid paths are ASCII: copied by character in JavaScript, which for paths of this length
  // is quicker than a call into the UTF-8 encoder. Anything else is encoded as UTF-8.
  for (let i = 0; i < pathLength; i++) {
    const c = path.charCodeAt(i);
    if (c >= 0x80) {
      pathLength = Buffer.byteLength(path);
      out = Buffer.allocUnsafe(headroom + pathLength + 1 + valueLength);
      out.write(path, headroom, 'utf8');
      break;
    }
    out[headroom + i] = c;
  }
  out[headroom + pathLength] = 0;
  if (value) out.set(value, headroom + pathLength + 1);
  return out;
}

/** DIRECTORY_PART's `path\0offset\0`. */
export const pathOffset = strings<{
  /** The node's path, absolute or relative to the connection's home. */
  readonly path: string;
  /** Where in the list of children the slice starts, in bytes. */
  readonly offset: number;
}>(
  (fields) => [fields.path, String(fields.offset)],
  (payload, op) => {
    const parts = requestStrings(payload);
    if (parts.length !== 2) bad(op, 'expected path and offset');
    // An offset atoi reads as negative is past the end of every list.
    return { op, path: parts[0]!, offset: atou(parts[1]!) };
  },
);

/** SET_PERMS' `path\0perm\0…`: at least one permission, the owner's. */
export const pathPermissions = strings<{
  /** The node's path, absolute or relative to the connection's home. */
  readonly path: string;

  /** The new permission list; the first entry names the owner. */
  readonly perms: readonly Permission[];
}>(
  (fields) => [fields.path, ...fields.perms.map(formatPermission)],
  (payload, op) => {
    const parts = requestStrings(payload);
    if (parts.length < 2) bad(op, 'expected path and at least one permission');
    return { op, path: parts[0]!, perms: parsePermissions(parts.slice(1)) };
  },
);

/** WATCH's `path\0token\0[depth\0]`. */
export const watch = strings<{
  /** The node's path, absolute or relative to the connection's home. */
  readonly path: string;

  /** Chosen by the client; every firing of the watch carries it. */
  readonly token: string;

  /** Fire only for changes at most this many levels below the path (servers with WATCHDEPTH). */
  readonly depth?: number;
}>(
  (fields) =>
    fields.depth === undefined
      ? [fields.path, fields.token]
      : [fields.path, fields.token, String(fields.depth)],
  (payload, op) => {
    const parts = requestStrings(payload);
    if (parts.length < 2 || parts.length > 3) bad(op, 'expected path and token');
    const [path, token, depthText] = parts as [string, string, string?];
    if (depthText === undefined) return { op, path, token };
    const depth = atoi(depthText);
    if (depth < 0) bad(op, 'depth is negative');
    return { op, path, token, depth };
  },
);

/** UNWATCH's `path\0token\0`. */
export const pathToken = strings<{
  /** The node's path, absolute or relative to the connection's home. */
  readonly path: string;
  /** Chosen by the client; every firing of the watch carries it. */
  readonly token: string;
}>(
  (fields) => [fields.path, fields.token],
  (payload, op) => {
    const parts = requestStrings(payload);
    if (parts.length !== 2) bad(op, 'expected path and token');
    return { op, path: parts[0]!, token: parts[1]! };
  },
);

/** TRANSACTION_START: the payload is reserved; xenstored and libxenstore send a lone nul. */
export const reserved = strings<object>(
  () => [''],
  (_payload, op) => ({ op }),
);

/** No payload at all (RESET_WATCHES). */
export const empty: RequestShape<object> = {
  encode: (_fields, headroom) => Buffer.alloc(headroom),
  decode: (_payload, op) => ({ op }),
};

/** TRANSACTION_END's `T\0` (commit) or `F\0` (abort). */
export const commit = strings<{
  /** True applies the transaction, false discards it. */
  readonly commit: boolean;
}>(
  (fields) => [fields.commit ? 'T' : 'F'],
  (payload, op) => {
    const text = toText(payload);
    if (text !== 'T\0' && text !== 'F\0') bad(op, 'expected T or F');
    return { op, commit: text === 'T\0' };
  },
);

/** INTRODUCE's `domid\0gfn\0port\0`. */
export const introduce = strings<{
  /** The domain the request is about. */
  readonly domid: number;
  /** The guest frame of the domain's ring page (sent as signed decimal). */

  /** The guest frame number of the domain's ring page. */
  readonly gfn: bigint | number;

  /** The event channel of the domain's ring. */
  readonly port: number;
}>(
  (fields) => [String(fields.domid), String(fields.gfn), String(fields.port)],
  (payload, op) => {
    const parts = requestStrings(payload);
    if (parts.length < 3) bad(op, 'expected domid, gfn and event channel');
    return {
      op,
      domid: atou(parts[0]!),
      // Not a number C reads (it ignores the gfn): kept as sent, for dumps.
      gfn: BigInt(/^\s*([+-]?\d+)/.exec(parts[1]!)?.[1] ?? 0),
      port: atoi(parts[2]!),
    };
  },
);

/** `domid\0`: RELEASE, RESUME, IS_DOMAIN_INTRODUCED, GET_DOMAIN_PATH. */
export const domid = strings<{
  /** The domain the request is about. */
  readonly domid: number;
}>(
  (fields) => [String(fields.domid)],
  (payload, op) => {
    const parts = splitStrings(payload);
    if (parts?.length !== 1) bad(op, 'expected one nul-terminated domid');
    return { op, domid: atou(parts![0]!) };
  },
);

/** SET_TARGET's `domid\0target\0`. */
export const domidTarget = strings<{
  /** The domain the request is about. */
  readonly domid: number;
  /** The domain whose privileges `domid` gets. */
  readonly target: number;
}>(
  (fields) => [String(fields.domid), String(fields.target)],
  (payload, op) => {
    const parts = requestStrings(payload);
    if (parts.length < 2) bad(op, 'expected domid and target');
    return { op, domid: atou(parts[0]!), target: atou(parts[1]!) };
  },
);

/** CONTROL's `command\0arg\0…`. */
export const args = strings<{
  /** The command and its arguments. */
  readonly args: readonly (string | Uint8Array)[];
}>(
  (fields) => fields.args,
  (payload, op) => {
    const parts = requestStrings(payload);
    if (parts.length === 0) bad(op, 'expected a command');
    return { op, args: parts };
  },
);

/** GET_FEATURE: without `domid` the server's own features, with it a domain's. */
export const optionalDomid: RequestShape<{
  /** The domain the request is about. */
  readonly domid?: number;
}> = {
  encode: (fields, headroom) =>
    joinStrings(fields.domid === undefined ? [] : [String(fields.domid)], headroom),
  decode(payload, op) {
    const parts = requestStrings(payload);
    if (parts.length > 1) bad(op, 'expected at most a domid');
    return parts.length === 0 ? { op } : { op, domid: atou(parts[0]!) };
  },
};

/** SET_FEATURE's `domid\0value\0`. */
export const domidValue = strings<{
  /** The domain the request is about. */
  readonly domid: number;
  /** The feature bits. */
  readonly value: number;
}>(
  (fields) => [String(fields.domid), String(fields.value)],
  (payload, op) => {
    const parts = requestStrings(payload);
    if (parts.length !== 2) bad(op, 'expected domid and value');
    return { op, domid: atou(parts[0]!), value: atou(parts[1]!) };
  },
);

/**
 * GET_QUOTA. No argument: the names of all quotas. `quota` alone: its global value. Both: the
 * value for that domain.
 */
export const quotaQuery = strings<{
  /** The domain the request is about. */
  readonly domid?: number;
  /** The quota's name, e.g. `nodes`. */
  readonly quota?: string;
}>(
  (fields) => [fields.domid, fields.quota].filter((s) => s !== undefined).map((s) => String(s)),
  (payload, op) => {
    const parts = requestStrings(payload);
    if (parts.length > 2) bad(op, 'expected at most domid and quota name');
    if (parts.length === 0) return { op };
    if (parts.length === 1) return { op, quota: parts[0]! };
    return { op, domid: atou(parts[0]!), quota: parts[1]! };
  },
);

/** SET_QUOTA's `[domid\0]quota\0value\0`: without a domid, the global value. */
export const quotaSetting = strings<{
  /** The domain the request is about. */
  readonly domid?: number;

  /** The quota's name, e.g. `nodes`. */
  readonly quota: string;

  /** The quota's new value. */
  readonly value: number;
}>(
  (fields) =>
    [fields.domid, fields.quota, fields.value].filter((s) => s !== undefined).map((s) => String(s)),
  (payload, op) => {
    const parts = requestStrings(payload);
    if (parts.length < 2 || parts.length > 3) bad(op, 'expected quota and value');
    const value = atou(parts[parts.length - 1]!);
    return parts.length === 2
      ? { op, quota: parts[0]!, value }
      : { op, domid: atou(parts[0]!), quota: parts[1]!, value };
  },
);
