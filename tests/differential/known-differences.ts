import { MessageType } from '../../src/xenstore/messages.ts';
import type { Step } from './script.ts';
import { GUEST_DOMIDS } from './targets.ts';

/**
 * The only behaviours in which the in-memory server may differ from C xenstored 4.17: documented
 * bugs of the C daemon (see the xenstore rules notes). The script generator never produces a step
 * that one of these matches, so any difference it finds is a real divergence.
 */
export interface KnownDifference {
  /** What C 4.17 does wrong, and what it should do. */
  readonly description: string;
  /** True for a step that would expose it; `byGuest` when a guest domain sends it. */
  matches(step: Step, byGuest: boolean): boolean;
}

const SINGLE_PATH_TYPES = new Set<number>([
  MessageType.READ,
  MessageType.DIRECTORY,
  MessageType.GET_PERMS,
  MessageType.MKDIR,
  MessageType.RM,
]);

const SPECIAL_WITH_PERMISSIONS = new Set(['@introduceDomain', '@releaseDomain']);

export const KNOWN_DIFFERENCES: readonly KnownDifference[] = [
  {
    description:
      'READ, DIRECTORY, GET_PERMS, MKDIR and RM with a payload that is not exactly one ' +
      'nul-terminated string answer a stale errno (and abort the daemon when it is 0) instead ' +
      'of EINVAL.',
    matches: (step) =>
      'raw' in step && SINGLE_PATH_TYPES.has(step.raw.type) && !/^[^\0]*\0$/.test(step.raw.payload),
  },
  {
    description:
      'SET_PERMS on a special path other than @introduceDomain and @releaseDomain answers a ' +
      'stale errno (and can abort the daemon) instead of EINVAL.',
    matches: (step) =>
      'request' in step &&
      step.request.op === 'SET_PERMS' &&
      step.request.path.startsWith('@') &&
      !SPECIAL_WITH_PERMISSIONS.has(step.request.path),
  },
  {
    description:
      'SET_PERMS giving the root node a guest owner: once that domain is released, C cannot ' +
      'remove the root as it removes other nodes the domain owned, and from then on answers ' +
      'EACCES to every request touching it, even from dom0 (found by this differential test; ' +
      'the daemon never recovers).',
    matches: (step) =>
      'request' in step &&
      step.request.op === 'SET_PERMS' &&
      step.request.path === '/' &&
      step.request.perms[0]?.domid !== 0,
  },
  {
    description:
      "SET_TARGET makes the controller hold a reference to its target's connection, so a " +
      'later RELEASE of the target answers OK but leaves it introduced (IS_DOMAIN_INTRODUCED ' +
      'still T, INTRODUCE keeps the old ring); releasing it again and then the controller ' +
      'crashes the daemon (found by this differential test).',
    matches: (step) =>
      'request' in step &&
      step.request.op === 'SET_TARGET' &&
      (GUEST_DOMIDS as readonly number[]).includes(step.request.target),
  },
  {
    description:
      'SET_PERMS on @introduceDomain or @releaseDomain by a guest without owner rights on it ' +
      'answers a stale errno (ENOENT in practice) instead of the EACCES the permission check ' +
      "computed: the caller returns errno, not the check's result (found by this differential " +
      'test).',
    matches: (step, byGuest) =>
      byGuest &&
      'request' in step &&
      step.request.op === 'SET_PERMS' &&
      SPECIAL_WITH_PERMISSIONS.has(step.request.path),
  },
  {
    description:
      'RESET_WATCHES carrying the id of an open transaction aborts 4.17.5 (Debian bookworm ' +
      '4.17.5+72-g01140da4e8-1): "Assertion `conn->transaction == NULL\' failed" in ' +
      'conn_delete_all_transactions(), as the request runs with its transaction current. Any ' +
      'guest can send it. Reproduction: TRANSACTION_START, then RESET_WATCHES with the id it ' +
      'returned (reference-crash.test.ts; found by this differential test). The pinned 4.17.7 ' +
      'answers OK and ends the transaction, so scripts keep sending it.',
    matches: () => false,
  },
];

/** True when `step` would expose a known C bug. */
export function isKnownDifference(step: Step, byGuest: boolean): boolean {
  return KNOWN_DIFFERENCES.some((difference) => difference.matches(step, byGuest));
}
