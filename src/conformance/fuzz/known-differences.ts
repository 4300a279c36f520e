import { MessageType } from '../../xenstore/messages.ts';
import { atoi } from '../../xenstore/numbers.ts';
import { requestStrings } from '../../xenstore/payload.ts';
import { parsePermission } from '../../xenstore/permissions.ts';
import {
  type ConnectionKind,
  DOM0_CONNECTIONS,
  GUEST_CONNECTIONS,
  GUEST_DOMIDS,
  type StepObservation,
} from './run-script.ts';
import { CONNECTIONS, type Script, type Step, stepPayloadText, stepType } from './script.ts';
import { dom0, introduce, onGuest, perms } from './steps.ts';

/**
 * The only behaviours in which the in-memory server may differ from C xenstored 4.17: documented
 * bugs of the C daemon (see the xenstore rules notes). The script generator never produces a step
 * that one of these matches, so any difference it finds is a real divergence.
 */
export interface KnownDifference {
  /** A name for it. */
  readonly title: string;
  /** What C 4.17 does wrong, and what it should do. */
  readonly description: string;
  /** True for a step that would expose it, sent after `context.earlier`. */
  matches(step: Step, context: StepContext): boolean;
  /**
   * A script that shows it on the pinned daemon, so that a test notices when C no longer does it;
   * absent for a bug of another C version, which a test of its own shows.
   */
  readonly reproduction?: Reproduction;
}

/** A script whose last step the two servers answer differently because of a known difference. */
export interface Reproduction {
  readonly script: Script;
  readonly connections: readonly ConnectionKind[];
  /** What the last step brings on C xenstored 4.17. */
  readonly c: StepObservation;
  /** What it brings on the in-memory server: what C should do. */
  readonly mock: StepObservation;
}

/** One reply on the acting connection of a script on dom0's three connections. */
const dom0Reply = (reply: string): StepObservation => [[reply], [], []];
/** One reply on guest 1's connection of a script on `GUEST_CONNECTIONS`. */
const guest1Reply = (reply: string): StepObservation => [[], [], [], [reply], []];

/** Where a step stands in its script. */
export interface StepContext {
  /** Sent by a guest domain rather than dom0. */
  readonly byGuest: boolean;
  /** The script's steps before it. */
  readonly earlier: readonly Step[];
}

/** A request step as C reads it: header type, payload (latin1) and nul-terminated strings. */
interface Sent {
  readonly type: number;
  readonly payload: string;
  readonly strings: string[];
}

function sent(step: Step): Sent | undefined {
  if ('oversize' in step) return undefined;
  const payload = stepPayloadText(step);
  return {
    type: stepType(step),
    payload,
    strings: requestStrings(Buffer.from(payload, 'latin1')),
  };
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
    title: 'a stale errno for a malformed single-path request',
    description:
      'READ, DIRECTORY, GET_PERMS, MKDIR and RM with a payload that is not exactly one ' +
      'nul-terminated string answer a stale errno (and abort the daemon when it is 0) instead ' +
      'of EINVAL.',
    matches: (step) => {
      const s = sent(step);
      return s !== undefined && SINGLE_PATH_TYPES.has(s.type) && !/^[^\0]*\0$/.test(s.payload);
    },
    reproduction: {
      script: [
        dom0({ op: 'READ', path: '/d/missing' }),
        { conn: 0, tx: 'none', raw: { type: MessageType.READ, payload: '/d' } },
      ],
      connections: DOM0_CONNECTIONS,
      c: dom0Reply('ERROR req=2 tx=0 "ENOENT\\u0000"'),
      mock: dom0Reply('ERROR req=2 tx=0 "EINVAL\\u0000"'),
    },
  },
  {
    title: 'a stale errno for SET_PERMS on another special path',
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
    reproduction: {
      script: [
        dom0({ op: 'READ', path: '/d/missing' }),
        dom0({ op: 'SET_PERMS', path: '@other', perms: perms('n0') }),
      ],
      connections: DOM0_CONNECTIONS,
      c: dom0Reply('ERROR req=2 tx=0 "ENOENT\\u0000"'),
      mock: dom0Reply('ERROR req=2 tx=0 "EINVAL\\u0000"'),
    },
  },
  {
    title: 'a root owned by a released guest',
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
    reproduction: {
      script: [
        introduce(1),
        dom0({ op: 'SET_PERMS', path: '/', perms: perms('n1') }),
        dom0({ op: 'RELEASE', domid: 1 }),
        dom0({ op: 'READ', path: '/tool' }),
      ],
      connections: DOM0_CONNECTIONS,
      c: dom0Reply('ERROR req=4 tx=0 "EACCES\\u0000"'),
      mock: dom0Reply('READ req=4 tx=0 ""'),
    },
  },
  {
    title: 'a released target kept by its controller',
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
        isGuest(atoi(s.strings[1]!) >>> 0)
      );
    },
    reproduction: {
      script: [
        introduce(1),
        introduce(2),
        dom0({ op: 'SET_TARGET', domid: 2, target: 1 }),
        dom0({ op: 'RELEASE', domid: 1 }),
        dom0({ op: 'IS_DOMAIN_INTRODUCED', domid: 1 }),
      ],
      connections: DOM0_CONNECTIONS,
      c: dom0Reply('IS_DOMAIN_INTRODUCED req=5 tx=0 "T\\u0000"'),
      mock: dom0Reply('IS_DOMAIN_INTRODUCED req=5 tx=0 "F\\u0000"'),
    },
  },
  {
    title: 'a stale errno for a guest refused SET_PERMS on a special path',
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
    reproduction: {
      script: [
        introduce(1),
        onGuest(1, { op: 'SET_PERMS', path: '@introduceDomain', perms: perms('n1') }),
      ],
      connections: GUEST_CONNECTIONS,
      c: guest1Reply('ERROR req=2 tx=0 "ENOENT\\u0000"'),
      mock: guest1Reply('ERROR req=2 tx=0 "EACCES\\u0000"'),
    },
  },
  {
    title: 'a negative event channel accepted',
    description:
      'INTRODUCE with an event channel that atoi reads as negative (`-3`, or 2147483648 and ' +
      'above, which wrap) passes the `port <= 0` check, made on the unsigned evtchn_port_t. ' +
      'For a domain not yet introduced the hypervisor then refuses the channel (EINVAL), but ' +
      'introducing a known domain again answers OK, the domain left without a channel. C ' +
      'should answer EINVAL in both cases, as for event channel 0; the in-memory server does.',
    matches: (step) => {
      const s = sent(step);
      return s?.type === MessageType.INTRODUCE && s.strings.length >= 3 && atoi(s.strings[2]!) < 0;
    },
    reproduction: {
      script: [introduce(1), dom0({ op: 'INTRODUCE', domid: 1, port: '-3' })],
      connections: DOM0_CONNECTIONS,
      c: dom0Reply('INTRODUCE req=2 tx=0 "OK\\u0000"'),
      mock: dom0Reply('ERROR req=2 tx=0 "EINVAL\\u0000"'),
    },
  },
  {
    title: 'domids from 2^31 printed signed and cut short',
    description:
      'GET_PERMS prints each domid as a signed int into a 12-byte buffer, so an entry for a ' +
      'domid of 2^31 and above prints negative, and from 2^31 to 3294967296 (-2147483648 to ' +
      '-1000000000) loses its last digit: `b2147483648` reads back as `b-214748364`. The ' +
      'in-memory server prints the whole signed number (`b-2147483648`), as C does for every ' +
      'domid that fits; C should print the unsigned number it parsed.',
    matches: (step) => {
      const s = sent(step);
      if (s?.type !== MessageType.SET_PERMS) return false;
      return s.strings.slice(1).some((text) => (permissionDomid(text) ?? 0) <= -1_000_000_000);
    },
    reproduction: {
      script: [
        dom0({ op: 'WRITE', path: '/d', value: '' }),
        dom0({
          op: 'SET_PERMS',
          path: '/d',
          perms: perms('n0', 'b2147483648', 'r4294967295'),
        }),
        dom0({ op: 'GET_PERMS', path: '/d' }),
      ],
      connections: DOM0_CONNECTIONS,
      c: dom0Reply('GET_PERMS req=3 tx=0 "n0\\u0000b-214748364\\u0000r-1\\u0000"'),
      mock: dom0Reply('GET_PERMS req=3 tx=0 "n0\\u0000b-2147483648\\u0000r-1\\u0000"'),
    },
  },
  {
    title: "a domain introduced right after its release inheriting the newest node's entries",
    description:
      'A domain introduced again right after its release, with no node written in between, ' +
      'takes the generation count of the newest node (C stamps a new domain with the current ' +
      'count, and a write stamps its node with the count after incrementing it). Permission ' +
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
    reproduction: {
      script: [
        introduce(1),
        dom0({ op: 'WRITE', path: '/local/domain/1/a', value: 'v' }),
        dom0({
          op: 'SET_PERMS',
          path: '/local/domain/1',
          perms: perms('n0', 'r1'),
        }),
        dom0({ op: 'RELEASE', domid: 1 }),
        introduce(1),
        onGuest(1, { op: 'DIRECTORY', path: '/local/domain/1' }),
      ],
      connections: GUEST_CONNECTIONS,
      c: guest1Reply('DIRECTORY req=6 tx=0 "a\\u0000"'),
      mock: guest1Reply('ERROR req=6 tx=0 "EACCES\\u0000"'),
    },
  },
  {
    title: 'an abort on RESET_WATCHES inside a transaction (4.17.5 only)',
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
export function isKnownDifference(step: Step, context: StepContext): boolean {
  return KNOWN_DIFFERENCES.some((difference) => difference.matches(step, context));
}
