import { XenstoreError } from './errors.ts';

/**
 * Node permissions. A node carries a list of entries `<letter><domid>`; the first names the owner
 * and its letter is the access of every domain without an entry of its own.
 */

/** `r` read, `w` write, `b` both, `n` none. */
export type Access = 'r' | 'w' | 'b' | 'n';

export interface Permission {
  readonly access: Access;
  readonly domid: number;
}

const letters: ReadonlySet<string> = new Set(['r', 'w', 'b', 'n']);

/**
 * Parses one entry as xenstored does: the letter, then a domid read like C's `strtol(s, &end, 0)`
 * (so `r0x10` is domain 16 and `r010` domain 8), with nothing left over.
 */
export function parsePermission(text: string): Permission {
  const letter = text[0];
  const domid =
    letter !== undefined && letters.has(letter) ? parseCInteger(text.slice(1)) : undefined;
  if (domid === undefined || domid > 0xffffffff) {
    throw new XenstoreError('EINVAL', `invalid permission ${JSON.stringify(text)}`);
  }
  return { access: letter as Access, domid };
}

/** Parses a whole list; at least one entry is required. */
export function parsePermissions(texts: readonly string[]): Permission[] {
  if (texts.length === 0) throw new XenstoreError('EINVAL', 'permission list is empty');
  return texts.map(parsePermission);
}

/** The wire form of one entry, e.g. `r5`. */
export function formatPermission(perm: Permission): string {
  return `${perm.access}${perm.domid}`;
}

/** True when `access` allows reading. */
export function canRead(access: Access): boolean {
  return access === 'r' || access === 'b';
}

/** True when `access` allows writing. */
export function canWrite(access: Access): boolean {
  return access === 'w' || access === 'b';
}

/** Non-negative integer in C `strtol` base-0 syntax (decimal, `0x` hex, leading-0 octal). */
function parseCInteger(text: string): number | undefined {
  let digits: RegExp;
  let base: number;
  let body = text;
  if (/^0[xX]/.test(text)) {
    base = 16;
    digits = /^[0-9a-fA-F]+$/;
    body = text.slice(2);
  } else if (text.length > 1 && text.startsWith('0')) {
    base = 8;
    digits = /^[0-7]+$/;
    body = text.slice(1);
  } else {
    base = 10;
    digits = /^[0-9]+$/;
  }
  if (!digits.test(body)) return undefined;
  return Number.parseInt(body, base);
}
