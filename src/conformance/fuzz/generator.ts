import fc from 'fast-check';
import { MessageType } from '../../xenstore/messages.ts';
import { atoi } from '../../xenstore/numbers.ts';
import type { Access, Permission } from '../../xenstore/permissions.ts';
import { isKnownDifference } from './known-differences.ts';
import { CONNECTED_GUEST_DOMIDS, GUEST_DOMIDS, guestPort } from './run-script.ts';
import {
  CONNECTIONS,
  type NumberText,
  type Script,
  type ScriptRequest,
  type Step,
  type TxRef,
} from './script.ts';
import { dom0, introduce, onGuest } from './steps.ts';

/**
 * Random scripts for differential testing: small path and token pools so that requests collide
 * (conflicts, watch hits, EEXIST), plus invalid paths, payloads and types; bytes that are not
 * UTF-8; numbers as C's atoi reads them (beyond 32 bits, signed, with junk); extra, empty and
 * missing strings; and short episodes that rarely arise step by step: guests released and
 * introduced again around permission changes, and guests' transactions changing permissions
 * while other domains watch.
 */

const LONGEST_PATH = `/d/${'x'.repeat(2045)}`;
const validPaths = [
  '/d',
  '/d/a',
  '/d/b',
  '/d/a/b',
  '/d/a/c',
  '/d/b/a',
  '/d/a/b/c',
  'r',
  'r/a',
  '/local/domain/1',
];
/** Guests' homes and below (relative paths land in the acting connection's own home). */
const guestAreaPaths = [
  '/local/domain/1/r',
  '/local/domain/1/r/a',
  '/local/domain/2',
  '/local/domain/2/r',
  '/local/domain/2/r/a',
  'r',
  'r/a',
];
const invalidPaths = ['/d/', '/d//a', '/d/a.b', '/d/a b', '', 'r/', `${LONGEST_PATH}x`, '/d/\xe9'];
const path = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...validPaths) },
  { weight: 3, arbitrary: fc.constantFrom(...guestAreaPaths) },
  { weight: 1, arbitrary: fc.constantFrom(...invalidPaths, LONGEST_PATH) },
);
const readPath = fc.oneof(
  { weight: 8, arbitrary: path },
  { weight: 1, arbitrary: fc.constant('/') },
);
const watchPath = fc.oneof(
  { weight: 6, arbitrary: path },
  {
    weight: 1,
    arbitrary: fc.constantFrom('/', '@introduceDomain', '@releaseDomain', '@other', '@\xe9\xff'),
  },
);
/** Tokens are opaque bytes: some are not UTF-8. */
const token = fc.constantFrom('t', 'u', '', 'a b', '\xe9', 'data\xff\x01', '\xc3\xa9');
const value = fc.constantFrom('', 'v', 'w', 'x\0y', 'z'.repeat(2000), '\xff\xfe\x80', '\xe9');

/** Texts C's atoi reads as `n`: blanks, a sign, leading zeros, junk, and wrap-around at 2^32. */
const textsOf = (n: number): string[] => [
  `0${n}`,
  ` ${n}`,
  `+${n}`,
  `${n}x`,
  `\t${n}`,
  String(2 ** 32 + n),
  String(n - 2 ** 32),
];
/** Texts that are no number, or one beyond a 32-bit or 64-bit integer. */
const oddNumbers = ['', 'x', '-1', '4294967296', '99999999999999999999', '2147483648'];

/** A number field: mostly one of `values`, sometimes a text C reads as one, or an odd text. */
function numberText(values: readonly number[]): fc.Arbitrary<NumberText> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...values) },
    { weight: 2, arbitrary: fc.constantFrom(...values.flatMap(textsOf)) },
    { weight: 1, arbitrary: fc.constantFrom(...oddNumbers) },
  );
}

const domid = numberText([0, ...GUEST_DOMIDS, 4]);
/** A domain an INTRODUCE may name: only guests have ring pages for the C daemon. */
const introducedDomid = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...GUEST_DOMIDS) },
  { weight: 1, arbitrary: fc.constantFrom(...GUEST_DOMIDS.flatMap(textsOf)) },
);
/**
 * The event channel an INTRODUCE of `domid` names: the guest's own (the hypervisor refuses one
 * bound to another domain), sometimes as a text C reads as it, or one it refuses.
 */
const portOf = fc
  .record({ style: fc.constantFrom('plain', 'plain', 'plain', 'text', 'odd'), pick: fc.nat(6) })
  .map(({ style, pick }) => (domid: NumberText): NumberText => {
    const port = guestPort(atoi(String(domid)));
    if (style === 'plain') return port;
    const texts = style === 'text' ? textsOf(port) : [0, '0x65', '-3', '4294967295'];
    return texts[pick % texts.length]!;
  });
const introduceRequest = fc
  .record({ domid: introducedDomid, port: portOf })
  .map(({ domid, port }): ScriptRequest => ({ op: 'INTRODUCE', domid, port: port(domid) }));

const permission: fc.Arbitrary<Permission> = fc.record({
  access: fc.constantFrom<Access>('r', 'w', 'b', 'n'),
  domid: fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(0, ...GUEST_DOMIDS, 5) },
    { weight: 1, arbitrary: fc.constantFrom(4294967295, 2147483648, 4294967297) },
  ),
});

const controlArgs = fc.constantFrom(
  ['print', 'x'],
  ['bogus'],
  ['check'],
  ['quota'],
  ['quota-soft'],
  [],
  ...['0', '1', '2', '4', 'abc', ' 1', '1x', '4294967297', '-4294967295', ''].map((d) => [
    'quota',
    d,
  ]),
  // Values as atoi reads them, and small quotas the guests then run into (each script starts
  // from the defaults). Not the memory, outstanding-request and path quotas, which the in-memory
  // server does not enforce as C does.
  ...['1000', '1000abc', ' 1000', '4294968296', '0', '-1', 'x', '2', '3'].map((n) => [
    'quota',
    'set',
    'nodes',
    n,
  ]),
  ...[
    ['watches', '1'],
    ['transactions', '1'],
    ['permissions', '2'],
    ['node-size', '100'],
    ['transaction-nodes', '3'],
  ].map((setting) => ['quota', 'set', ...setting]),
  ['quota', 'set', 'nodes'],
  ['quota-soft', 'set', 'memory', '2097152kB'],
);

const request: fc.Arbitrary<ScriptRequest> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('READ' as const), path: readPath }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('WRITE' as const), path, value }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('MKDIR' as const), path: readPath }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('RM' as const), path: readPath }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('DIRECTORY' as const), path: readPath }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('DIRECTORY_PART' as const),
      path: readPath,
      offset: numberText([0, 1, 2, 4, 100]),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('GET_PERMS' as const), path: readPath }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('SET_PERMS' as const),
      path: watchPath,
      perms: fc.array(permission, { minLength: 1, maxLength: 4 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('WATCH' as const), path: watchPath, token }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('UNWATCH' as const), path: watchPath, token }),
  },
  { weight: 3, arbitrary: fc.constant({ op: 'TRANSACTION_START' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'RESET_WATCHES' as const }) },
  { weight: 3, arbitrary: introduceRequest },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constantFrom('RELEASE' as const, 'RESUME' as const, 'IS_DOMAIN_INTRODUCED' as const),
      domid,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('GET_DOMAIN_PATH' as const),
      domid: numberText([0, 1, 7, 0x7ff0]),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('SET_TARGET' as const), domid, target: domid }),
  },
  {
    // CONTROL is implementation-specific; these commands answer alike in C and in the mock.
    // (`log` is left out: it turns on tracing, which slows the C daemon sixty-fold.)
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('CONTROL' as const), args: controlArgs }),
  },
);

/** Malformed payloads and types a server must refuse without harm. */
const malformed = fc.oneof(
  fc.record({
    type: fc.constantFrom(15, 16, 20, 23, 24, 25, 26, 27, 0xffff),
    payload: fc.constantFrom('', 'x\0'),
  }),
  fc.record({ type: fc.constant(11), payload: fc.constantFrom('/d/a', '') }),
  fc.record({ type: fc.constant(4), payload: fc.constantFrom('/d\0t\0' + '1\0', '/d\0', '') }),
  fc.record({ type: fc.constant(7), payload: fc.constantFrom('X\0', 'T', '') }),
  fc.record({
    type: fc.constant(14),
    payload: fc.constantFrom('/d/a\0', '/d/a\0x0\0', '/d/a\0r\0'),
  }),
  fc.record({ type: fc.constant(10), payload: fc.constantFrom('007\0', '', 'x\0') }),
  fc.record({ type: fc.constant(8), payload: fc.constantFrom('1\0', '1\0' + '0\0') }),
);

const text = (n: fc.Arbitrary<NumberText>) => n.map(String);
const permissionText = fc.constantFrom(
  'n0',
  'r1',
  'b2',
  'w01',
  'r0x1',
  'r 1',
  'r-1',
  'x0',
  '',
  'r4294967297',
  'b2147483648',
);
const extraStrings = fc.array(fc.constantFrom('', ' ', '1', '7', 'x', '\xe9'), { maxLength: 2 });

/**
 * A request of `type` whose strings are `head`, some of them left out or followed by extra ones,
 * and maybe by bytes after the last nul.
 */
function strings(type: number, head: fc.Arbitrary<string[]>, extra = extraStrings) {
  return fc
    .record({
      head,
      missing: fc.constantFrom(0, 0, 0, 1),
      extra,
      tail: fc.constantFrom('', '', 'junk', ' '),
    })
    .map(({ head, missing, extra, tail }) => ({
      type,
      payload:
        [...head.slice(0, head.length - missing), ...extra].map((s) => `${s}\0`).join('') + tail,
    }));
}

/** Requests with more, fewer or empty strings than their grammar has, numbers as any text. */
const stringVariants = fc.oneof(
  strings(MessageType.SET_TARGET, fc.tuple(text(domid), text(domid))),
  strings(
    MessageType.INTRODUCE,
    fc
      .record({ domid: introducedDomid, gfn: fc.constantFrom('0', 'x', ''), port: portOf })
      .map(({ domid, gfn, port }) => [String(domid), gfn, String(port(domid))]),
    // No digits: a string standing in for a missing event channel must not name another one.
    fc.array(fc.constantFrom('', ' ', 'x', '\xe9'), { maxLength: 2 }),
  ),
  strings(MessageType.DIRECTORY_PART, fc.tuple(readPath, text(numberText([0, 1, 4])))),
  strings(MessageType.WATCH, fc.tuple(watchPath, token)),
  strings(MessageType.UNWATCH, fc.tuple(watchPath, token)),
  strings(MessageType.SET_PERMS, fc.tuple(path, permissionText)),
  strings(MessageType.CONTROL, controlArgs),
  strings(MessageType.TRANSACTION_END, fc.constantFrom(['T'], ['F'])),
  strings(MessageType.IS_DOMAIN_INTRODUCED, fc.tuple(text(domid))),
  strings(MessageType.GET_DOMAIN_PATH, fc.tuple(text(domid))),
);

const txRef: fc.Arbitrary<TxRef> = fc.oneof(
  { weight: 12, arbitrary: fc.constant('none' as const) },
  { weight: 6, arbitrary: fc.record({ started: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.constant('bogus' as const) },
);

/** TRANSACTION_END mostly names a transaction that is open. */
const transactionEnd = (conn: fc.Arbitrary<number>) =>
  fc.record({
    conn,
    tx: fc.oneof(
      { weight: 8, arbitrary: fc.record({ started: fc.nat(2) }) },
      { weight: 1, arbitrary: fc.constantFrom('none' as const, 'bogus' as const) },
    ),
    request: fc.record({ op: fc.constant('TRANSACTION_END' as const), commit: fc.boolean() }),
  });

function stepArbitrary(connections: number): fc.Arbitrary<Step> {
  const conn = fc.nat(connections - 1);
  return fc.oneof(
    { weight: 40, arbitrary: fc.record({ conn, tx: txRef, request }) },
    { weight: 3, arbitrary: transactionEnd(conn) },
    { weight: 2, arbitrary: fc.record({ conn, tx: txRef, raw: malformed }) },
    { weight: 3, arbitrary: fc.record({ conn, tx: txRef, raw: stringVariants }) },
    {
      weight: 1,
      arbitrary: fc.record({
        conn: fc.nat(CONNECTIONS - 1),
        oversize: fc.constant(true as const),
      }),
    },
  );
}

const connectedGuest = fc.constantFrom(...CONNECTED_GUEST_DOMIDS);
/** The guests' own subtrees, by absolute path (the same for every connection). */
const guestArea = fc.constantFrom(
  '/local/domain/1/r',
  '/local/domain/1/r/a',
  '/local/domain/2/r',
  '/local/domain/2/r/a',
);
const guestPermission: fc.Arbitrary<Permission> = fc.record({
  access: fc.constantFrom<Access>('r', 'b', 'n'),
  domid: fc.constantFrom(0, ...CONNECTED_GUEST_DOMIDS),
});

/**
 * A guest released and introduced again, a node written in between (right after a release C
 * hands the new domain the newest node's entries; see the known differences), then a node of a
 * guest area changed by dom0 (written, given a child, or removed); with `guests`, the new domain
 * watches the node first and reads it after. Every step judges the old domain's entries anew.
 */
const lifecycle = (guests: boolean) =>
  fc
    .record({
      domid: connectedGuest,
      between: fc.constantFrom('/d', '/d/a'),
      path: guestArea,
      change: fc.constantFrom('write', 'child', 'remove', 'none'),
      watch: fc.boolean(),
      read: fc.boolean(),
      token,
    })
    .map(({ domid, between, path, change, watch, read, token }): Step[] => [
      dom0({ op: 'RELEASE', domid }),
      dom0({ op: 'WRITE', path: between, value: '' }),
      introduce(domid),
      ...(guests && watch ? [onGuest(domid, { op: 'WATCH', path, token })] : []),
      ...(change === 'write' ? [dom0({ op: 'WRITE', path, value: 'v' })] : []),
      ...(change === 'child' ? [dom0({ op: 'WRITE', path: `${path}/c`, value: '' })] : []),
      ...(change === 'remove' ? [dom0({ op: 'RM', path })] : []),
      ...(guests && read ? [onGuest(domid, { op: 'READ', path })] : []),
    ]);

/** Dom0 writes a node in a guest's area and gives guests rights on it. */
const grant = fc
  .record({
    path: guestArea,
    perms: fc.array(guestPermission, { minLength: 1, maxLength: 3 }),
    value,
  })
  .map(({ path, perms, value }): Step[] => [
    dom0({ op: 'WRITE', path, value }),
    dom0({ op: 'SET_PERMS', path, perms }),
  ]);

/** A guest's transaction changing nodes and their permissions in its home, ended. */
const guestTransaction = fc
  .record({
    domid: connectedGuest,
    changes: fc.array(
      fc.oneof(
        fc.record({ op: fc.constant('WRITE' as const), path: fc.constantFrom('r', 'r/a'), value }),
        fc.record({
          op: fc.constant('SET_PERMS' as const),
          path: fc.constantFrom('r', 'r/a'),
          perms: fc.array(guestPermission, { minLength: 1, maxLength: 2 }),
        }),
        fc.record({ op: fc.constant('RM' as const), path: fc.constantFrom('r', 'r/a') }),
      ),
      { minLength: 1, maxLength: 3 },
    ),
    commit: fc.constantFrom(true, true, true, false),
  })
  .map(({ domid, changes, commit }): Step[] => [
    onGuest(domid, { op: 'TRANSACTION_START' }),
    ...changes.map((request) => onGuest(domid, request, { started: 0 })),
    onGuest(domid, { op: 'TRANSACTION_END', commit }, { started: 0 }),
  ]);

/**
 * A guest's transaction changing a node of its own and its child, and their permissions, while
 * the other guest watches one of them: whether the watcher sees each commit event depends on the
 * permissions at the moment that node is committed.
 */
const watchedTransaction = fc
  .record({
    owner: connectedGuest,
    access: fc.constantFrom<Access>('n', 'r', 'b'),
    watchChild: fc.boolean(),
    token,
    changes: fc.array(
      fc.record({
        op: fc.constantFrom('WRITE', 'SET_PERMS', 'RM'),
        child: fc.boolean(),
        access: fc.constantFrom<Access>('n', 'r', 'b'),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    commit: fc.constantFrom(true, true, true, false),
  })
  .map(({ owner, access, watchChild, token, changes, commit }): Step[] => {
    const other = owner === 1 ? 2 : 1;
    const home = `/local/domain/${owner}/r`;
    const own = (access: Access) => [{ access, domid: owner }];
    const change = ({ op, child, access }: (typeof changes)[number]): ScriptRequest => {
      const path = child ? 'r/a' : 'r';
      if (op === 'WRITE') return { op, path, value: '' };
      if (op === 'SET_PERMS') return { op, path, perms: own(access) };
      return { op: 'RM', path };
    };
    return [
      dom0({ op: 'WRITE', path: home, value: '' }),
      dom0({ op: 'SET_PERMS', path: home, perms: own(access) }),
      onGuest(other, { op: 'WATCH', path: watchChild ? `${home}/a` : home, token }),
      onGuest(owner, { op: 'TRANSACTION_START' }),
      ...changes.map((each) => onGuest(owner, change(each), { started: 0 })),
      onGuest(owner, { op: 'TRANSACTION_END', commit }, { started: 0 }),
    ];
  });

/** A guest watching a guest area, its own or the other guest's. */
const guestWatch = fc
  .record({ domid: connectedGuest, path: guestArea, token })
  .map(({ domid, path, token }): Step[] => [onGuest(domid, { op: 'WATCH', path, token })]);

/** Drops each step that would expose a known C bug, judged after the steps kept before it. */
function withoutKnownDifferences(script: Script): Script {
  const kept: Step[] = [];
  for (const step of script) {
    if (!isKnownDifference(step, { byGuest: step.conn >= CONNECTIONS, earlier: kept })) {
      kept.push(step);
    }
  }
  return kept;
}

/**
 * Scripts of up to `maxLength` steps (lengths spread over the whole range, not fast-check's
 * default small sizes) on the dom0 connections; with `guest`, also on connections speaking for
 * domains {@link CONNECTED_GUEST_DOMIDS}, which the script introduces first and may release and
 * introduce again.
 */
export function scriptArbitrary(maxLength: number, guest = false): fc.Arbitrary<Script> {
  const connections = CONNECTIONS + (guest ? CONNECTED_GUEST_DOMIDS.length : 0);
  const episodes = guest
    ? [lifecycle(true), grant, guestTransaction, watchedTransaction, guestWatch]
    : [lifecycle(false), grant];
  const piece = fc.oneof(
    { weight: 6 * episodes.length, arbitrary: stepArbitrary(connections).map((s) => [s]) },
    ...episodes.map((arbitrary) => ({ weight: 1, arbitrary })),
  );
  const start = guest
    ? CONNECTED_GUEST_DOMIDS.map((domid) =>
        dom0({ op: 'INTRODUCE', domid, port: guestPort(domid) }),
      )
    : [];
  return fc
    .array(piece, { minLength: guest ? 0 : 1, maxLength, size: 'max' })
    .map((pieces) => withoutKnownDifferences([...start, ...pieces.flat().slice(0, maxLength)]));
}
