/**
 * The numbers of the xenstore protocol besides its message types (those are the table of
 * `messages.ts`): error names, sizes and limits. Values follow Xen's
 * `xen/include/public/io/xs_wire.h` and `docs/misc/xenstore.txt`.
 */

/**
 * Error names in wire order (`xsd_errors[]`): the protocol sends the name as text. New names are
 * only ever appended (EPERM was added in 2022), so the order is part of the protocol.
 * @category Codec
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

/**
 * An error name that can travel in an `ERROR` reply.
 * @category Codec
 */
export type WireErrorName = (typeof WIRE_ERRORS)[number];

/**
 * Linux errno numbers of the wire error names.
 * @category Codec
 */
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

/**
 * True when `name` is one of the sixteen names the protocol can carry.
 * @category Codec
 */
export function isWireErrorName(name: string): name is WireErrorName {
  return wireErrorSet.has(name);
}

/**
 * Size of the fixed message header: four little-endian u32 (`struct xsd_sockmsg`).
 * @category Codec
 */
export const HEADER_SIZE = 16;

/**
 * Largest payload in either direction (`XENSTORE_PAYLOAD_MAX`). A request announcing more makes
 * xenstored drop the connection; a reply that would be larger is replaced by E2BIG.
 * @category Codec
 */
export const PAYLOAD_MAX = 4096;

/**
 * Longest absolute path, in bytes (`XENSTORE_ABS_PATH_MAX`).
 * @category Codec
 */
export const ABS_PATH_MAX = 3072;
/**
 * Longest relative path, in bytes (`XENSTORE_REL_PATH_MAX`).
 * @category Codec
 */
export const REL_PATH_MAX = 2048;

/** `DOMID_SELF`: IS_DOMAIN_INTRODUCED answers T for it. */
export const DOMID_SELF = 0x7ff0;
