/**
 * Every number of the xenstore protocol, in one place: message types, error names, limits and
 * the feature bits a server advertises in the ring page. Values follow Xen's
 * `xen/include/public/io/xs_wire.h` and `docs/misc/xenstore.txt`.
 */

/** Message type numbers (`enum xsd_sockmsg_type`). */
export const MessageType = {
  /** Implementation-specific commands; formerly `XS_DEBUG`. */
  CONTROL: 0,
  DIRECTORY: 1,
  READ: 2,
  GET_PERMS: 3,
  WATCH: 4,
  UNWATCH: 5,
  TRANSACTION_START: 6,
  TRANSACTION_END: 7,
  INTRODUCE: 8,
  RELEASE: 9,
  GET_DOMAIN_PATH: 10,
  WRITE: 11,
  MKDIR: 12,
  RM: 13,
  SET_PERMS: 14,
  /** Server to client only. */
  WATCH_EVENT: 15,
  /** Server to client only. */
  ERROR: 16,
  IS_DOMAIN_INTRODUCED: 17,
  RESUME: 18,
  SET_TARGET: 19,
  /** Type 20 was `XS_RESTRICT`; it has been removed and is invalid on the wire. */
  RESET_WATCHES: 21,
  DIRECTORY_PART: 22,
  GET_FEATURE: 23,
  SET_FEATURE: 24,
  GET_QUOTA: 25,
  SET_QUOTA: 26,
  /** Guaranteed never to name a message. */
  INVALID: 0xffff,
} as const;

/** Name of a message type, e.g. `'READ'`. */
export type MessageTypeName = keyof typeof MessageType;

/** The number of `XS_RESTRICT`, removed from the protocol: servers answer ENOSYS. */
export const REMOVED_RESTRICT_TYPE = 20;

/** One past the highest defined type (`XS_TYPE_COUNT`). */
export const TYPE_COUNT = 27;

const typeNames = new Map<number, MessageTypeName>(
  (Object.entries(MessageType) as [MessageTypeName, number][]).map(([name, n]) => [n, name]),
);

/** The name of a type number, or `undefined` for numbers that name no message (20, 27+). */
export function messageTypeName(type: number): MessageTypeName | undefined {
  return typeNames.get(type);
}

/**
 * Error names in wire order (`xsd_errors[]`): the protocol sends the name as text. New names are
 * only ever appended (EPERM was added in 2022), so the order is part of the protocol.
 */
export const WIRE_ERRORS = [
  'EINVAL',
  'EACCES',
  'EEXIST',
  'EISDIR',
  'ENOENT',
  'ENOMEM',
  'ENOSPC',
  'EIO',
  'ENOTEMPTY',
  'ENOSYS',
  'EROFS',
  'EBUSY',
  'EAGAIN',
  'EISCONN',
  'E2BIG',
  'EPERM',
] as const;

/** An error name that can travel in an `ERROR` reply. */
export type WireErrorName = (typeof WIRE_ERRORS)[number];

/** Linux errno numbers of the wire error names. */
export const ERRNO: Readonly<Record<WireErrorName, number>> = {
  EINVAL: 22,
  EACCES: 13,
  EEXIST: 17,
  EISDIR: 21,
  ENOENT: 2,
  ENOMEM: 12,
  ENOSPC: 28,
  EIO: 5,
  ENOTEMPTY: 39,
  ENOSYS: 38,
  EROFS: 30,
  EBUSY: 16,
  EAGAIN: 11,
  EISCONN: 106,
  E2BIG: 7,
  EPERM: 1,
};

const wireErrorSet: ReadonlySet<string> = new Set(WIRE_ERRORS);

/** True when `name` is one of the sixteen names the protocol can carry. */
export function isWireErrorName(name: string): name is WireErrorName {
  return wireErrorSet.has(name);
}

/** Size of the fixed message header: four little-endian u32 (`struct xsd_sockmsg`). */
export const HEADER_SIZE = 16;

/**
 * Largest payload in either direction (`XENSTORE_PAYLOAD_MAX`). A request announcing more makes
 * xenstored drop the connection; a reply that would be larger is replaced by E2BIG.
 */
export const PAYLOAD_MAX = 4096;

/** Path limits of the protocol document (`XENSTORE_ABS_PATH_MAX`, `XENSTORE_REL_PATH_MAX`). */
export const ABS_PATH_MAX = 3072;
export const REL_PATH_MAX = 2048;

/** `DOMID_SELF`: IS_DOMAIN_INTRODUCED answers T for it. */
export const DOMID_SELF = 0x7ff0;
