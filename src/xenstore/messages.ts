import type { ReplyShape } from './reply-shapes.ts';
import * as reply from './reply-shapes.ts';
import type { RequestShape } from './request-shapes.ts';
import * as request from './request-shapes.ts';

/**
 * The message types of the xenstore protocol, in one table: the model is C xenstored's
 * `wire_funcs[]` with its flags. Numbers follow Xen's `xen/include/public/io/xs_wire.h`
 * (`enum xsd_sockmsg_type`), grammars `docs/misc/xenstore.txt`.
 *
 * The codec encodes and decodes through it, the daemon dispatches and checks privilege and
 * transactions by it, the pool routes read-only requests by it, and the names the CLI prints
 * come from it. A new request type is one row here plus its handler in the daemon; a row missing
 * a shape, or a daemon missing a handler, does not compile.
 */

/**
 * What every part of the library needs to know of one request type.
 * @category Codec
 */
export interface MessageRow<Fields = object, Value = unknown, Type extends number = number> {
  /** Its number on the wire. */
  readonly type: Type;
  /** Refused to unprivileged connections with EACCES (C's `XS_FLAG_PRIV`). */
  readonly privileged?: true;
  /**
   * Its `tx_id` is never looked up (C's `XS_FLAG_NOTID`); a request of any other type naming an
   * unknown transaction is ENOENT, whether or not it cares about transactions.
   */
  readonly noTransaction?: true;
  /**
   * Changes nothing in the store: a pool may carry it on any connection, and inside a
   * transaction it counts as a read of the node.
   */
  readonly readOnly?: true;
  /** Unknown to Xen 4.17's xenstored, which answers ENOSYS (its later versions implement it). */
  readonly newerThan417?: true;
  /** The request's payload grammar. */
  readonly request: RequestShape<Fields>;
  /** The grammar of a successful reply's payload. */
  readonly reply: ReplyShape<Value>;
}

/** Keeps a row's type number, fields and reply value in its type, for the codec's types. */
function row<const Type extends number, Fields, Value>(
  entry: MessageRow<Fields, Value, Type>,
): MessageRow<Fields, Value, Type> {
  return entry;
}

/**
 * Every request type, by name, in wire order.
 * @category Codec
 */
export const MESSAGES = {
  /** Implementation-specific commands; formerly `XS_DEBUG`. */
  CONTROL: row({ type: 0, privileged: true, request: request.args, reply: reply.bytes }),
  /** The names of a node's children. */
  DIRECTORY: row({ type: 1, readOnly: true, request: request.path, reply: reply.names }),
  /** A node's value. */
  READ: row({ type: 2, readOnly: true, request: request.path, reply: reply.bytes }),
  /** A node's permission list. */
  GET_PERMS: row({ type: 3, readOnly: true, request: request.path, reply: reply.permissions }),
  /** Registers a watch on a path (and its subtree), with a token. */
  WATCH: row({ type: 4, noTransaction: true, request: request.watch, reply: reply.ok }),
  /** Removes a watch, by path and token. */
  UNWATCH: row({ type: 5, noTransaction: true, request: request.pathToken, reply: reply.ok }),
  /** Opens a transaction; the reply is its id. */
  TRANSACTION_START: row({ type: 6, request: request.reserved, reply: reply.transactionId }),
  /** Commits (`T`) or aborts (`F`) a transaction. */
  TRANSACTION_END: row({ type: 7, request: request.commit, reply: reply.ok }),
  /** Tells the daemon about a domain's ring page and event channel. */
  INTRODUCE: row({ type: 8, privileged: true, request: request.introduce, reply: reply.ok }),
  /** Tells the daemon a domain is gone. */
  RELEASE: row({ type: 9, privileged: true, request: request.domid, reply: reply.ok }),
  /** A domain's home path, `/local/domain/<domid>`. */
  GET_DOMAIN_PATH: row({ type: 10, request: request.domid, reply: reply.text }),
  /** Sets a node's value, creating it and its parents. */
  WRITE: row({ type: 11, request: request.pathValue, reply: reply.ok }),
  /** Creates a node with an empty value, and its parents. */
  MKDIR: row({ type: 12, request: request.path, reply: reply.ok }),
  /** Removes a node and its subtree. */
  RM: row({ type: 13, request: request.path, reply: reply.ok }),
  /** Replaces a node's permission list. */
  SET_PERMS: row({ type: 14, request: request.pathPermissions, reply: reply.ok }),
  // 15 and 16 are server-to-client only: WATCH_EVENT and ERROR.
  /** Whether a domain is introduced: `T` or `F`. */
  IS_DOMAIN_INTRODUCED: row({
    type: 17,
    privileged: true,
    request: request.domid,
    reply: reply.flag,
  }),
  /** Clears a domain's shutdown flag. */
  RESUME: row({ type: 18, privileged: true, request: request.domid, reply: reply.ok }),
  /** Lets a domain act with the privileges of another (device models). */
  SET_TARGET: row({ type: 19, privileged: true, request: request.domidTarget, reply: reply.ok }),
  // 20 was XS_RESTRICT: removed, invalid on the wire.
  /** Drops the connection's watches and transactions. */
  RESET_WATCHES: row({ type: 21, request: request.empty, reply: reply.ok }),
  /** A slice of a node's children, from an offset, with the node's generation. */
  DIRECTORY_PART: row({
    type: 22,
    readOnly: true,
    request: request.pathOffset,
    reply: reply.directoryPart,
  }),
  /** Open to all for the asking domain's features; naming another domain is privileged. */
  GET_FEATURE: row({
    type: 23,
    newerThan417: true,
    request: request.optionalDomid,
    reply: reply.decimal,
  }),
  /** Sets a domain's feature bits. */
  SET_FEATURE: row({
    type: 24,
    privileged: true,
    newerThan417: true,
    request: request.domidValue,
    reply: reply.ok,
  }),
  /** The quota names, or one quota's value (global or a domain's). */
  GET_QUOTA: row({
    type: 25,
    privileged: true,
    newerThan417: true,
    request: request.quotaQuery,
    reply: reply.text,
  }),
  /** Sets a quota, globally or for a domain. */
  SET_QUOTA: row({
    type: 26,
    privileged: true,
    newerThan417: true,
    request: request.quotaSetting,
    reply: reply.ok,
  }),
} as const satisfies Record<string, MessageRow>;

/**
 * The name of a request type, e.g. `'READ'`.
 * @category Codec
 */
export type RequestName = keyof typeof MESSAGES;

/**
 * Message type numbers (`enum xsd_sockmsg_type`): those of the requests of {@link MESSAGES}, plus
 * the two the server sends to clients only (WATCH_EVENT 15, ERROR 16) and INVALID (0xffff), which
 * is guaranteed never to name a message.
 * @category Codec
 */
export const MessageType: { readonly [K in RequestName]: (typeof MESSAGES)[K]['type'] } & {
  /** A watch firing, server to client. */
  readonly WATCH_EVENT: 15;
  /** A failed request's reply, server to client; the payload is the error name. */
  readonly ERROR: 16;
  /** `XS_INVALID`: never a valid type. */
  readonly INVALID: 0xffff;
} = Object.freeze({
  ...(Object.fromEntries(Object.entries(MESSAGES).map(([name, row]) => [name, row.type])) as {
    readonly [K in RequestName]: (typeof MESSAGES)[K]['type'];
  }),
  WATCH_EVENT: 15,
  ERROR: 16,
  INVALID: 0xffff,
} as const);

/**
 * Name of a message type, e.g. `'READ'`.
 * @category Codec
 */
export type MessageTypeName = keyof typeof MessageType;

/**
 * The number of `XS_RESTRICT`, removed from the protocol: servers answer ENOSYS.
 * @category Codec
 */
export const REMOVED_RESTRICT_TYPE = 20;

/**
 * One past the highest defined type (`XS_TYPE_COUNT`), 27 for the types of Xen 4.17's header.
 * @category Codec
 */
export const TYPE_COUNT: number = Math.max(...Object.values(MESSAGES).map((row) => row.type)) + 1;

const typeNames = new Map<number, MessageTypeName>(
  (Object.entries(MessageType) as [MessageTypeName, number][]).map(([name, n]) => [n, name]),
);

/**
 * The name of a type number, or `undefined` for numbers that name no message (20, 27+).
 * @category Codec
 */
export function messageTypeName(type: number): MessageTypeName | undefined {
  return typeNames.get(type);
}

/** The row of a request type, with every flag readable. */
export function messageRow(name: RequestName): MessageRow {
  return MESSAGES[name];
}

/** A request type's name and row, as found by its number. */
export interface RequestEntry {
  readonly name: RequestName;
  readonly row: MessageRow;
}

const requestsByNumber: (RequestEntry | undefined)[] = [];
for (const [name, row] of Object.entries(MESSAGES) as [RequestName, MessageRow][]) {
  requestsByNumber[row.type] = { name, row };
}

/**
 * The request type of a number, or `undefined` for one that names no request: unknown numbers,
 * the removed 20, and the server-to-client WATCH_EVENT and ERROR.
 */
export function requestEntry(type: number): RequestEntry | undefined {
  return requestsByNumber[type];
}
