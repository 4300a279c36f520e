import { MessageType } from '../../src/xenstore/constants.ts';
import type { Step } from './script.ts';

/**
 * The only behaviours in which the in-memory server may differ from C xenstored 4.17: documented
 * bugs of the C daemon (see the xenstore rules notes). The script generator never produces a step
 * that one of these matches, so any difference it finds is a real divergence.
 */
export interface KnownDifference {
  /** What C 4.17 does wrong, and what it should do. */
  readonly description: string;
  /** True for a step that would expose it. */
  matches(step: Step): boolean;
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
];

/** True when `step` would expose a known C bug. */
export function isKnownDifference(step: Step): boolean {
  return KNOWN_DIFFERENCES.some((difference) => difference.matches(step));
}
