import { XenstoreError } from './errors.ts';
import { strtolWhole } from './numbers.ts';

/**
 * Node permissions. A node carries a list of entries `<letter><domid>`; the first names the owner
 * and its letter is the access of every domain without an entry of its own.
 */

/**
 * `r` read, `w` write, `b` both, `n` none.
 * @category Codec
 */
export type Access = 'r' | 'w' | 'b' | 'n';

/**
 * One entry of a node's permission list, `<letter><domid>` on the wire (`r5`).
 * @category Codec
 */
export interface Permission {
  /** What the domain may do. */
  readonly access: Access;
  /** The domain the entry is for; in the first entry, the owner. */
  readonly domid: number;
}

const letters: ReadonlySet<string> = new Set(['r', 'w', 'b', 'n']);

/**
 * Parses one entry as xenstored does (`xs_strings_to_perms`): the letter, then a domid read by C's
 * `strtol(s, &end, 0)` with nothing left over. So `r0x10` is domain 16, `r010` domain 8, `r 1`
 * domain 1; the result is kept in 32 bits and printed signed, as C does, so `r-1` stays `r-1`.
 * @category Codec
 */
export function parsePermission(text: string): Permission {
  const letter = text[0];
  const domid =
    letter !== undefined && letters.has(letter) ? strtolWhole(text.slice(1)) : undefined;
  if (domid === undefined) {
    throw new XenstoreError('EINVAL', `invalid permission ${JSON.stringify(text)}`);
  }
  return { access: letter as Access, domid };
}

/**
 * Parses a whole list; at least one entry is required.
 * @category Codec
 */
export function parsePermissions(texts: readonly string[]): Permission[] {
  if (texts.length === 0) throw new XenstoreError('EINVAL', 'permission list is empty');
  return texts.map(parsePermission);
}

/**
 * The wire form of one entry, e.g. `r5`.
 * @category Codec
 */
export function formatPermission(perm: Permission): string {
  return `${perm.access}${perm.domid}`;
}

/**
 * True when `access` allows reading.
 * @category Codec
 */
export function canRead(access: Access): boolean {
  return access === 'r' || access === 'b';
}

/**
 * True when `access` allows writing.
 * @category Codec
 */
export function canWrite(access: Access): boolean {
  return access === 'w' || access === 'b';
}
