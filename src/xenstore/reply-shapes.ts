import { XenstoreError } from './errors.ts';
import { asBuffer, splitStrings, textBetween, toText } from './payload.ts';
import { type Permission, parsePermission } from './permissions.ts';

/**
 * The payload grammars of successful replies, one per shape that some request type's reply
 * has: what a client decodes a reply's payload to.
 */

/**
 * One reply payload grammar.
 * @category Codec
 */
export interface ReplyShape<Value> {
  /** Parses a successful reply's payload; EPROTO naming `op` when it breaks the grammar. */
  decode(payload: Uint8Array, op: string): Value;
}

/**
 * One slice of a DIRECTORY_PART listing.
 * @category Codec
 */
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

function malformed(op: string): never {
  throw new XenstoreError('EPROTO', `malformed ${op} reply`, op);
}

/** The payload as one nul-terminated string, and nothing else. */
function oneString(payload: Uint8Array, op: string): string {
  const strings = splitStrings(payload);
  return strings?.length === 1 ? strings[0]! : malformed(op);
}

/** Names as a directory lists them: none empty, none with a `/`. */
function childNames(payload: Uint8Array, op: string): string[] {
  const end = payload.length - 1;
  if (end < 0) return [];
  if (payload[end] !== 0) malformed(op);
  // The whole list checked at once: an empty name is a nul first, last or after another one.
  const text = textBetween(payload, 0, end);
  if (
    text === '' ||
    text.includes('/') ||
    text.includes('\0\0') ||
    text.charCodeAt(0) === 0 ||
    text.charCodeAt(text.length - 1) === 0
  ) {
    malformed(op);
  }
  return text.split('\0');
}

/** A decimal number of 1 to 10 digits that fits in 32 bits, as C prints an unsigned int. */
function uint32(payload: Uint8Array, op: string): number {
  const text = oneString(payload, op);
  const value = /^\d{1,10}$/.test(text) ? Number(text) : -1;
  return value >= 0 && value <= 0xffffffff ? value : malformed(op);
}

/** The payload itself, as a Buffer view: READ's value, CONTROL's implementation-specific answer. */
export const bytes: ReplyShape<Buffer> = { decode: (payload) => asBuffer(payload) };

/** Nul-terminated names (DIRECTORY). */
export const names: ReplyShape<string[]> = { decode: childNames };

/** `generation\0child\0…[\0]` (DIRECTORY_PART). */
export const directoryPart: ReplyShape<DirectoryPart> = {
  decode(payload, op) {
    const nul = payload.indexOf(0);
    if (nul < 0) malformed(op);
    const generation = toText(payload.subarray(0, nul));
    const rest = payload.subarray(nul + 1);
    // The list is complete when it ends in an empty string: one extra nul after the last name.
    const complete = rest.length === 1 ? rest[0] === 0 : rest.length > 1 && rest.at(-2) === 0;
    const body = complete ? rest.subarray(0, rest.length - 1) : rest;
    const children = childNames(body, op);
    return { generation, children, complete, length: body.length };
  },
};

/** Nul-terminated permission entries, the owner's first (GET_PERMS). */
export const permissions: ReplyShape<Permission[]> = {
  decode(payload, op) {
    const entries = splitStrings(payload);
    if (!entries?.length) malformed(op);
    try {
      return entries.map(parsePermission);
    } catch {
      return malformed(op);
    }
  },
};

/** One 32-bit decimal number (GET_FEATURE's bits). */
export const decimal: ReplyShape<number> = { decode: uint32 };

/** TRANSACTION_START's id: 32 bits and never 0, which in a header means "no transaction". */
export const transactionId: ReplyShape<number> = {
  decode(payload, op) {
    const id = uint32(payload, op);
    return id !== 0 ? id : malformed(op);
  },
};

/** One string (GET_DOMAIN_PATH; GET_QUOTA's names separated by spaces, or a quota's value). */
export const text: ReplyShape<string> = { decode: oneString };

/** `T` or `F` (IS_DOMAIN_INTRODUCED). */
export const flag: ReplyShape<boolean> = {
  decode(payload, op) {
    const answer = oneString(payload, op);
    return answer === 'T' ? true : answer === 'F' ? false : malformed(op);
  },
};

/** The `OK\0` that acknowledges every other request; a few servers omit the nul. */
export const ok: ReplyShape<undefined> = {
  decode(payload, op) {
    const terminated = payload.length === 3 && payload[2] === 0;
    const isOk = (payload.length === 2 || terminated) && payload[0] === 0x4f && payload[1] === 0x4b;
    return isOk ? undefined : malformed(op);
  },
};
