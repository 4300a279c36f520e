import { MessageType } from '../../src/xenstore/constants.ts';
import { parsePermission } from '../../src/xenstore/permissions.ts';
import { cAtoi, cStrings } from './c-reading.ts';
import { CONNECTIONS, type Step, stepPayloadText, stepType } from './script.ts';
import { GUEST_DOMIDS } from './targets.ts';

/**
 * The only behaviours in which the in-memory server may differ from C xenstored 4.17: documented
 * bugs of the C daemon (see the xenstore rules notes). The script generator never produces a step
 * that one of these matches, so any difference it finds is a real divergence.
 */
export interface KnownDifference {
  /** What C 4.17 does wrong, and what it should do. */
  readonly description: string;
  /** True for a step that would expose it, sent after `context.earlier`. */
  matches(step: Step, context: StepContext): boolean;
}

/** Where a step stands in its script. */
export interface StepContext {
  /** Sent by a guest domain rather than dom0. */
  readonly byGuest: boolean;
  /** The script's steps before it. */
  readonly earlier: readonly Step[];
}

/** A request step as C reads it: header type and nul-terminated strings. */
interface Sent {
  readonly type: number;
  readonly payload: string;
  readonly strings: string[];
}

function sent(step: Step): Sent | undefined {
  if ('oversize' in step) return undefined;
  const payload = stepPayloadText(step);
  return { type: stepType(step), payload, strings: cStrings(payload) };
}

/** The domid of a permission entry as C reads it (`strtol`), or undefined if C refuses it. */
function permissionDomid(text: string): number | undefined {
  try {
    return parsePermission(text).domid;
  } catch {
    return undefined;
  }
}

const SINGLE_PATH_TYPES = new Set<number>([
  MessageType.READ,
  MessageType.DIRECTORY,
  MessageType.GET_PERMS,
  MessageType.MKDIR,
  MessageType.RM,
]);

const SPECIAL_WITH_PERMISSIONS = new Set(['@introduceDomain', '@releaseDomain']);

const isGuest = (domid: number) => (GUEST_DOMIDS as readonly number[]).includes(domid);

/** Whether dom0 certainly wrote a node with `step` (a WRITE of a valid path never fails for it). */
function certainWrite(step: Step): boolean {
  return (
    step.conn < CONNECTIONS &&
    'request' in step &&
    step.tx === 'none' &&
    step.request.op === 'WRITE' &&
    /^[/A-Za-z0-9_-][A-Za-z0-9/_@-]*$/.test(step.request.path) &&
    !step.request.path.includes('//') &&
    !step.request.path.endsWith('/') &&
    step.request.path.length <= 2048
  );
}

export const KNOWN_DIFFERENCES: readonly KnownDifference[] = [
  {
    description:
      'READ, DIRECTORY, GET_PERMS, MKDIR and RM with a payload that is not exactly one ' +
      'nul-terminated string answer a stale errno (and abort the daemon when it is 0) instead ' +
      'of EINVAL.',
    matches: (step) => {
      const s = sent(step);
      return s !== undefined && SINGLE_PATH_TYPES.has(s.type) && !/^[^\0]*\0$/.test(s.payload);
    },
  },
  {
    description:
      'SET_PERMS on a special path other than @introduceDomain and @releaseDomain answers a ' +
      'stale errno (and can abort the daemon) instead of EINVAL.',
    matches: (step) => {
      const s = sent(step);
      const path = s?.strings[0];
      return (
        s?.type === MessageType.SET_PERMS &&
        path !== undefined &&
        path.startsWith('@') &&
        !SPECIAL_WITH_PERMISSIONS.has(path)
      );
    },
  },
  {
    description:
      'SET_PERMS giving the root node a guest owner: once that domain is released, C cannot ' +
      'remove the root as it removes other nodes the domain owned, and from then on answers ' +
      'EACCES to every request touching it, even from dom0 (found by this differential test; ' +
      'the daemon never recovers).',
    matches: (step) => {
      const s = sent(step);
      if (s?.type !== MessageType.SET_PERMS || s.strings[0] !== '/') return false;
      const owner = s.strings[1] === undefined ? undefined : permissionDomid(s.strings[1]);
      return owner !== undefined && owner !== 0;
    },
  },
  {
    description:
      "SET_TARGET makes the controller hold a reference to its target's connection, so a " +
      'later RELEASE of the target answers OK but leaves it introduced (IS_DOMAIN_INTRODUCED ' +
      'still T, INTRODUCE keeps the old ring); releasing it again and then the controller ' +
      'crashes the daemon (found by this differential test).',
    matches: (step) => {
      const s = sent(step);
      return (
        s?.type === MessageType.SET_TARGET &&
        s.strings.length >= 2 &&
        isGuest(cAtoi(s.strings[1]!) >>> 0)
      );
    },
  },
  {
    description:
      'SET_PERMS on @introduceDomain or @releaseDomain by a guest without owner rights on it ' +
      'answers a stale errno (ENOENT in practice) instead of the EACCES the permission check ' +
      "computed: the caller returns errno, not the check's result (found by this differential " +
      'test).',
    matches: (step, { byGuest }) => {
      const s = sent(step);
      return (
        byGuest &&
        s?.type === MessageType.SET_PERMS &&
        SPECIAL_WITH_PERMISSIONS.has(s.strings[0] ?? '')
      );
    },
  },
  {
    description:
      'INTRODUCE with an event channel that atoi reads as negative (`-3`, or 2147483648 and ' +
      'above, which wrap) answers OK: the `port <= 0` check is made on the unsigned ' +
      'evtchn_port_t. It should be EINVAL, as for event channel 0, which the in-memory server ' +
      'answers.',
    matches: (step) => {
      const s = sent(step);
      return s?.type === MessageType.INTRODUCE && s.strings.length >= 3 && cAtoi(s.strings[2]!) < 0;
    },
  },
  {
    description:
      'GET_PERMS prints each domid as a signed int into a 12-byte buffer, so an entry for a ' +
      'domid of 2^31 and above prints negative, and from 3000000000 down to 2^31 (-1294967296 ' +
      'to -2147483648) loses its last digit: `b2147483648` reads back as `b-214748364`. The ' +
      'in-memory server prints the whole signed number (`b-2147483648`), as C does for every ' +
      'domid that fits; C should print it unsigned, as it parsed it.',
    matches: (step) => {
      const s = sent(step);
      if (s?.type !== MessageType.SET_PERMS) return false;
      return s.strings.slice(1).some((text) => (permissionDomid(text) ?? 0) <= -1_000_000_000);
    },
  },
  {
    description:
      'A domain introduced again right after its release, with no node written in between, ' +
      'takes the generation count of the newest node (C stamps the domain with the current ' +
      'count; a write stamps the node with the count after incrementing it). Permission ' +
      'entries for the domain on that node, which lapsed with the old domain, count again for ' +
      'the new one. C should stamp a new domain with a count above every existing node (as ' +
      'the in-memory server does), so that no entry written before it counts.',
    matches: (step, { earlier }) => {
      if (sent(step)?.type !== MessageType.INTRODUCE) return false;
      for (let i = earlier.length - 1; i >= 0; i--) {
        const before = earlier[i]!;
        if (certainWrite(before)) return false;
        if (sent(before)?.type === MessageType.RELEASE) return true;
      }
      return false;
    },
  },
];

/** True when `step` would expose a known C bug. */
export function isKnownDifference(step: Step, context: StepContext): boolean {
  return KNOWN_DIFFERENCES.some((difference) => difference.matches(step, context));
}
