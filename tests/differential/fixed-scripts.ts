import type { Script, ScriptRequest, Step, TxRef } from '../../src/conformance/fuzz/script.ts';
import { dom0, introduce, onGuest, perms } from '../../src/conformance/fuzz/steps.ts';
import { GUEST_CONNECTION_DOMID, guestPort } from './targets.ts';

/**
 * Scripts too specific for the random generator to stumble on (they need long runs of similar
 * requests), and divergences it found once, kept as they were fixed. The guest scripts run on the
 * connections of `GUEST_CONNECTIONS`: dom0 on 0 to 2, guests 1 and 2 on 3 and 4.
 */

const guest = (request: ScriptRequest, tx: TxRef = 'none'): Step =>
  onGuest(GUEST_CONNECTION_DOMID, request, tx);
const times = (count: number, make: (i: number) => Step): Step[] =>
  Array.from({ length: count }, (_, i) => make(i));
const home = `/local/domain/${GUEST_CONNECTION_DOMID}`;

/**
 * A fixed script driving guest {@link GUEST_CONNECTION_DOMID} into every per-domain limit of C
 * xenstored 4.17 (node size, permission entries, watches, transactions, nodes). Run on both
 * servers, the replies show where each limit bites.
 */
export const GUEST_QUOTA_SCRIPT: Script = [
  introduce(GUEST_CONNECTION_DOMID),
  dom0({ op: 'MKDIR', path: home }),
  dom0({ op: 'SET_PERMS', path: home, perms: perms(`n${GUEST_CONNECTION_DOMID}`) }),
  // Node size: value plus path, permissions and header against 2048 bytes.
  ...[1900, 2000, 2048, 2100].map((size) =>
    guest({ op: 'WRITE', path: `big${size}`, value: 'x'.repeat(size) }),
  ),
  // Permission entries: 5 allowed.
  ...[5, 6].map((count) =>
    guest({
      op: 'SET_PERMS',
      path: 'big1900',
      // The guest owns the node (first entry); the others name domains 1, 2, 3...
      perms: Array.from({ length: count }, (_, i) => ({
        access: 'r' as const,
        domid: i === 0 ? GUEST_CONNECTION_DOMID : i,
      })),
    }),
  ),
  // Watches: 128 allowed.
  ...times(130, (i) => guest({ op: 'WATCH', path: `w${i}`, token: 'q' })),
  guest({ op: 'RESET_WATCHES' }),
  // Transactions: about 10 open at once.
  ...times(12, () => guest({ op: 'TRANSACTION_START' })),
  ...times(12, () => guest({ op: 'TRANSACTION_END', commit: false }, { started: 0 })),
  // Nodes: 1000 per domain, those created above included.
  ...times(1001, (i) => guest({ op: 'WRITE', path: `n${i}`, value: '' })),
];

const LONG_NAME = 'c'.repeat(200);

/**
 * A directory whose child list exceeds a reply: DIRECTORY must fail with E2BIG and DIRECTORY_PART
 * must page through it (offsets at, inside, between and past the slices), before and after a
 * change, from dom0 and from a transaction.
 */
export const LARGE_DIRECTORY_SCRIPT: Script = [
  ...times(24, (i) =>
    dom0({ op: 'WRITE', path: `/d/big/${LONG_NAME}${String(i).padStart(2, '0')}`, value: '' }),
  ),
  dom0({ op: 'DIRECTORY', path: '/d/big' }),
  ...[0, 1, 203, 4060, 4061, 4872, 4873, 5000].map((offset) =>
    dom0({ op: 'DIRECTORY_PART', path: '/d/big', offset }),
  ),
  dom0({ op: 'RM', path: `/d/big/${LONG_NAME}05` }),
  dom0({ op: 'DIRECTORY_PART', path: '/d/big', offset: 0 }),
  dom0({ op: 'DIRECTORY_PART', path: '/d/big', offset: 4060 }),
  dom0({ op: 'TRANSACTION_START' }),
  { conn: 0, tx: { started: 0 }, request: { op: 'DIRECTORY', path: '/d/big' } },
  { conn: 0, tx: { started: 0 }, request: { op: 'DIRECTORY_PART', path: '/d/big', offset: 0 } },
  { conn: 0, tx: { started: 0 }, request: { op: 'TRANSACTION_END', commit: true } },
];

const inTx = (conn: number, request: ScriptRequest): Step => ({
  conn,
  tx: { started: 0 },
  request,
});

/**
 * What a transaction sees of nodes changed outside it after it started (C 4.17 records each
 * node's state when the transaction first touches it, absence included), and how it ends.
 */
export const TRANSACTION_VIEW_SCRIPT: Script = [
  dom0({ op: 'WRITE', path: '/d/seen', value: 'old' }),
  { conn: 1, tx: 'none', request: { op: 'TRANSACTION_START' } },
  inTx(1, { op: 'READ', path: '/d/seen' }),
  inTx(1, { op: 'READ', path: '/d/absent' }),
  inTx(1, { op: 'GET_PERMS', path: '/d/absent-perms' }),
  dom0({ op: 'WRITE', path: '/d/seen', value: 'new' }),
  dom0({ op: 'WRITE', path: '/d/absent', value: 'created' }),
  dom0({ op: 'WRITE', path: '/d/absent-perms', value: 'created' }),
  dom0({ op: 'WRITE', path: '/d/later', value: 'outside' }),
  inTx(1, { op: 'READ', path: '/d/seen' }),
  inTx(1, { op: 'READ', path: '/d/absent' }),
  inTx(1, { op: 'DIRECTORY', path: '/d/absent-perms' }),
  inTx(1, { op: 'READ', path: '/d/later' }),
  inTx(1, { op: 'TRANSACTION_END', commit: true }),
  // A view no snapshot would give: /d/x first seen after it appeared, its parent /d still missing
  // because / was consulted before (while looking for the missing /d/y).
  { conn: 1, tx: 'none', request: { op: 'RM', path: '/d' } },
  { conn: 1, tx: 'none', request: { op: 'TRANSACTION_START' } },
  inTx(1, { op: 'GET_PERMS', path: '/d/y' }),
  dom0({ op: 'WRITE', path: '/d/x', value: 'v' }),
  inTx(1, { op: 'READ', path: '/d/x' }),
  inTx(1, { op: 'DIRECTORY', path: '/d' }),
  inTx(1, { op: 'RM', path: '/d/x' }),
  inTx(1, { op: 'TRANSACTION_END', commit: true }),
  // The converse: the transaction's own /d lists no children, yet /d/b appeared outside since.
  { conn: 1, tx: 'none', request: { op: 'RM', path: '/d' } },
  { conn: 1, tx: 'none', request: { op: 'TRANSACTION_START' } },
  inTx(1, { op: 'MKDIR', path: '/d' }),
  dom0({ op: 'WRITE', path: '/d/b/a', value: 'w' }),
  inTx(1, { op: 'DIRECTORY', path: '/d' }),
  inTx(1, { op: 'READ', path: '/d/b' }),
  inTx(1, { op: 'RM', path: '/d/b' }),
  inTx(1, { op: 'TRANSACTION_END', commit: true }),
  // A child the transaction's /d/b/a1 lists, removed outside since: RM of /d/b stops there, with
  // /d/b/a0 already removed and unlisted.
  { conn: 1, tx: 'none', request: { op: 'RM', path: '/d' } },
  dom0({ op: 'WRITE', path: '/d/b/a0', value: 'x' }),
  dom0({ op: 'WRITE', path: '/d/b/a1/c', value: 'x' }),
  { conn: 1, tx: 'none', request: { op: 'TRANSACTION_START' } },
  inTx(1, { op: 'DIRECTORY', path: '/d/b' }),
  inTx(1, { op: 'DIRECTORY', path: '/d/b/a1' }),
  dom0({ op: 'RM', path: '/d/b/a1/c' }),
  inTx(1, { op: 'RM', path: '/d/b' }),
  inTx(1, { op: 'DIRECTORY', path: '/d/b' }),
  inTx(1, { op: 'DIRECTORY', path: '/d/b/a1' }),
  inTx(1, { op: 'READ', path: '/d/b/a0' }),
  inTx(1, { op: 'TRANSACTION_END', commit: true }),
  // A node created and removed again inside the transaction: no permissions to judge its commit
  // event by, so no watcher gets it, dom0 included; the one for /d/m shows the commit's events.
  dom0({ op: 'WATCH', path: '/d', token: 'n' }),
  { conn: 1, tx: 'none', request: { op: 'TRANSACTION_START' } },
  inTx(1, { op: 'WRITE', path: '/d/n', value: 'x' }),
  inTx(1, { op: 'RM', path: '/d/n' }),
  inTx(1, { op: 'WRITE', path: '/d/m', value: 'x' }),
  inTx(1, { op: 'TRANSACTION_END', commit: true }),
];

/**
 * Conflicts through ancestors: a transaction that finds a node missing has consulted its nearest
 * existing ancestor (to choose between ENOENT and EACCES), so a later outside change to that
 * ancestor, and to it only, fails the commit in C 4.17.
 */
export const TRANSACTION_ANCESTOR_SCRIPT: Script = [
  dom0({ op: 'MKDIR', path: '/d/a' }),
  { conn: 1, tx: 'none', request: { op: 'TRANSACTION_START' } },
  inTx(1, { op: 'READ', path: '/d/a/missing/deeper' }),
  dom0({ op: 'WRITE', path: '/d/b', value: 'unrelated' }),
  inTx(1, { op: 'TRANSACTION_END', commit: true }),
  { conn: 1, tx: 'none', request: { op: 'TRANSACTION_START' } },
  inTx(1, { op: 'GET_PERMS', path: '/d/a/missing' }),
  dom0({ op: 'WRITE', path: '/d/a/other', value: 'x' }),
  inTx(1, { op: 'TRANSACTION_END', commit: true }),
  { conn: 1, tx: 'none', request: { op: 'TRANSACTION_START' } },
  inTx(1, { op: 'READ', path: '/d/a/missing' }),
  dom0({ op: 'WRITE', path: '/d/a', value: 'changed' }),
  inTx(1, { op: 'TRANSACTION_END', commit: true }),
];

/**
 * @introduceDomain and @releaseDomain around INTRODUCE and RELEASE, on the requesting connection
 * and another one: where each event falls relative to the request's reply, and what a release
 * removes. (In C 4.17 the releasing connection's @releaseDomain event comes after the RELEASE
 * reply in the first release below and before it in the second, where another connection that
 * was opened before the domain was introduced also watches.)
 */
export const DOMAIN_EVENTS_SCRIPT: Script = [
  dom0({ op: 'WATCH', path: '@introduceDomain', token: 'in' }),
  dom0({ op: 'WATCH', path: '@releaseDomain', token: 'out' }),
  dom0({ op: 'INTRODUCE', domid: 2, port: guestPort(2) }),
  dom0({ op: 'RELEASE', domid: 2 }),
  { conn: 1, tx: 'none', request: { op: 'WATCH', path: '@releaseDomain', token: 'other' } },
  dom0({ op: 'INTRODUCE', domid: 2, port: guestPort(2) }),
  dom0({ op: 'WRITE', path: '/d/owned', value: 'x' }),
  dom0({ op: 'SET_PERMS', path: '/d/owned', perms: [{ access: 'n', domid: 2 }] }),
  dom0({ op: 'RELEASE', domid: 2 }),
  dom0({ op: 'READ', path: '/d/owned' }),
  dom0({ op: 'IS_DOMAIN_INTRODUCED', domid: 2 }),
];

/**
 * A guest's transaction touching nodes it may not access (EACCES): which nodes the refusal still
 * recorded, seen through the commit after outside changes to the node's parent.
 */
export const GUEST_REFUSED_IN_TRANSACTION_SCRIPT: Script = [
  introduce(GUEST_CONNECTION_DOMID),
  ...(['READ', 'RM'] as const).flatMap((op): Step[] => [
    dom0({ op: 'WRITE', path: '/d/b', value: '' }),
    guest({ op: 'TRANSACTION_START' }),
    guest({ op, path: '/d/b' }, { started: 0 }),
    dom0({ op: 'WRITE', path: '/d', value: op }),
    guest({ op: 'TRANSACTION_END', commit: true }, { started: 0 }),
  ]),
];

/**
 * A guest's transaction at its limit of touched nodes (1024) removing a directory: C's walk stops
 * at the child it can no longer read, with EIO, the children before it already removed; the
 * commit then fails.
 */
export const GUEST_TRANSACTION_NODES_RM_SCRIPT: Script = [
  introduce(GUEST_CONNECTION_DOMID),
  dom0({ op: 'MKDIR', path: home }),
  dom0({ op: 'SET_PERMS', path: home, perms: perms(`n${GUEST_CONNECTION_DOMID}`) }),
  guest({ op: 'WRITE', path: 't/a', value: 'x' }),
  guest({ op: 'WRITE', path: 't/b', value: 'x' }),
  guest({ op: 'TRANSACTION_START' }),
  guest({ op: 'DIRECTORY', path: 't/a' }, { started: 0 }),
  guest({ op: 'READ', path: 't' }, { started: 0 }),
  // Each missing node and, once, the home directory: 1024 touched with t and t/a.
  ...times(1021, (i) => guest({ op: 'READ', path: `m${i}` }, { started: 0 })),
  guest({ op: 'RM', path: 't' }, { started: 0 }),
  guest({ op: 'DIRECTORY', path: 't' }, { started: 0 }),
  guest({ op: 'TRANSACTION_END', commit: true }, { started: 0 }),
];

/** A release and a new introduction, a node written in between (see the known differences). */
const reintroduce = (domid: number): Step[] => [
  dom0({ op: 'RELEASE', domid }),
  dom0({ op: 'WRITE', path: '/d', value: '' }),
  introduce(domid),
];
const raw = (type: number, payload: string): Step => ({
  conn: 0,
  tx: 'none',
  raw: { type, payload },
});

/** Tokens and `@` paths are bytes: events carry them back unchanged, UTF-8 or not. */
export const NON_UTF8_TOKENS_SCRIPT: Script = [
  introduce(1),
  dom0({ op: 'WRITE', path: '/local/domain/1/data', value: '' }),
  dom0({ op: 'SET_PERMS', path: '/local/domain/1/data', perms: perms('n1') }),
  dom0({ op: 'WATCH', path: '/d', token: '\xe9' }),
  dom0({ op: 'WATCH', path: '@\xe9\xff', token: 't' }),
  onGuest(1, { op: 'WATCH', path: 'data', token: 'data\xff\x01' }),
  dom0({ op: 'WRITE', path: '/d/x', value: '\xc3' }),
  dom0({ op: 'WRITE', path: '/local/domain/1/data/c', value: 'v' }),
];

/** Every number as C's atoi reads it into 32 bits: wrapped, signed, with junk, or none. */
export const ATOI_NUMBERS_SCRIPT: Script = [
  introduce(1),
  ...['4294967297', '-4294967295', '4295000048'].map((domid) =>
    dom0({ op: 'IS_DOMAIN_INTRODUCED', domid }),
  ),
  dom0({ op: 'GET_DOMAIN_PATH', domid: '99999999999999999999' }),
  ...['4294967296', '-1'].map((offset) => dom0({ op: 'DIRECTORY_PART', path: '/', offset })),
  ...[
    ['quota', 'abc'],
    ['quota', '4294967297'],
    ['quota', 'set', 'nodes', '1000abc'],
    ['quota', 'set', 'nodes', '4294968296'],
    ['quota', 'set', 'nodes', '0'],
    ['quota-soft', 'set', 'memory', '2097152kB'],
  ].map((args) => dom0({ op: 'CONTROL', args })),
  dom0({ op: 'INTRODUCE', domid: '4294967297', port: '-4294967195' }),
  dom0({ op: 'RESUME', domid: ' +1x' }),
  dom0({ op: 'RELEASE', domid: '4294967297' }),
  dom0({ op: 'IS_DOMAIN_INTRODUCED', domid: 1 }),
];

/**
 * Requests read as the nul-terminated strings they start with: extra and empty strings and bytes
 * after the last nul are ignored where C ignores them (SET_TARGET, INTRODUCE, WATCH, SET_PERMS,
 * DIRECTORY_PART, CONTROL) and refused where it counts them.
 */
export const EXTRA_STRINGS_SCRIPT: Script = [
  introduce(1),
  ...['7\0 1\0 7\0 1\0', '7\0 \0 1\0', '7\0 1\0junk', '7\0junk'].map((p) => raw(19, p)),
  ...['1\0 0\0 101\0 extra\0', '1\0 0\0 101\0junk'].map((p) => raw(8, p)),
  ...['/d\0t\0junk', '/d\0t\0x\0'].map((p) => raw(4, p)),
  raw(5, '/d\0t\0junk'),
  raw(14, '/\0n0\0junk'),
  ...['/\0 0\0junk', '/\0 0\0\0'].map((p) => raw(22, p)),
  ...['quota\0\0junk', 'check\0junk', 'check\0x\0', 'log\0on\0x\0'].map((p) => raw(0, p)),
  raw(10, '1\0junk'),
];

/**
 * A guest's transaction whose node creation the node quota refused: C marks the transaction as
 * creating nodes all the same, so its commit re-checks the quota and fails, here because it also
 * changed a node's permissions (which counts the owner's nodes again).
 */
export const REFUSED_CREATION_SCRIPT: Script = [
  dom0({ op: 'CONTROL', args: ['quota', 'set', 'nodes', '2'] }),
  introduce(1),
  dom0({ op: 'WRITE', path: '/local/domain/1/r', value: '' }),
  dom0({ op: 'SET_PERMS', path: '/local/domain/1/r', perms: perms('n1') }),
  onGuest(1, { op: 'WRITE', path: 'r/a', value: '' }),
  ...[true, false].flatMap((create): Step[] => [
    onGuest(1, { op: 'TRANSACTION_START' }),
    onGuest(1, { op: 'SET_PERMS', path: 'r', perms: perms('r1') }, { started: 0 }),
    ...(create ? [onGuest(1, { op: 'WRITE', path: 'r/b', value: '' }, { started: 0 })] : []),
    onGuest(1, { op: 'TRANSACTION_END', commit: true }, { started: 0 }),
  ]),
];

/**
 * The node quota inside a transaction: each new node is checked against the nodes committed only
 * (any number fits in one request while they are under the quota, none once they reach it, a
 * removal in the transaction frees no room), and the commit checks the sum.
 */
export const TRANSACTION_NODE_QUOTA_SCRIPT: Script = [
  dom0({ op: 'CONTROL', args: ['quota', 'set', 'nodes', '3'] }),
  introduce(1),
  dom0({ op: 'MKDIR', path: '/local/domain/1' }),
  dom0({ op: 'SET_PERMS', path: '/local/domain/1', perms: perms('n1') }),
  onGuest(1, { op: 'WRITE', path: 'x/y/z', value: '' }),
  ...[['x/y/z/w', 'v'], ['a']].flatMap((paths): Step[] => [
    onGuest(1, { op: 'TRANSACTION_START' }),
    ...paths.map((path) => onGuest(1, { op: 'WRITE', path, value: '' }, { started: 0 })),
    onGuest(1, { op: 'TRANSACTION_END', commit: true }, { started: 0 }),
  ]),
  onGuest(1, { op: 'WRITE', path: 'a', value: '' }),
  onGuest(1, { op: 'TRANSACTION_START' }),
  onGuest(1, { op: 'RM', path: 'a' }, { started: 0 }),
  onGuest(1, { op: 'WRITE', path: 'b', value: '' }, { started: 0 }),
  onGuest(1, { op: 'TRANSACTION_END', commit: true }, { started: 0 }),
];

/** SET_PERMS by a guest: the entries are counted against the quota before they are parsed. */
export const PERMISSION_COUNT_SCRIPT: Script = [
  dom0({ op: 'CONTROL', args: ['quota', 'set', 'permissions', '2'] }),
  introduce(1),
  ...['/local/domain/1/r\0n0\0\0\0', '/local/domain/1/r\0x0\0'].map(
    (payload): Step => ({ conn: 3, tx: 'none', raw: { type: 14, payload } }),
  ),
];

/** The transaction node quota as it is when a node is touched, not when the transaction began. */
export const TRANSACTION_NODES_LATER_SCRIPT: Script = [
  introduce(2),
  onGuest(2, { op: 'TRANSACTION_START' }),
  dom0({ op: 'CONTROL', args: ['quota', 'set', 'transaction-nodes', '3'] }),
  onGuest(2, { op: 'SET_PERMS', path: 'r', perms: perms('r0') }, { started: 0 }),
  onGuest(2, { op: 'TRANSACTION_END', commit: true }, { started: 0 }),
];

/** CONTROL `quota 0`: C counts no watches or transactions of dom0's socket connections. */
export const DOM0_QUOTA_SCRIPT: Script = [
  dom0({ op: 'WATCH', path: '/d', token: 't' }),
  dom0({ op: 'TRANSACTION_START' }),
  dom0({ op: 'CONTROL', args: ['quota', '0'] }),
];

/**
 * A released guest's permission entries stay void for a new domain with its domid, also once the
 * node is written again, inherited or removed, and on @releaseDomain.
 */
export const LAPSED_ENTRIES_SCRIPT: Script = [
  introduce(1),
  introduce(2),
  dom0({ op: 'WRITE', path: '/local/domain/1/name', value: 'old' }),
  dom0({ op: 'SET_PERMS', path: '/local/domain/1/name', perms: perms('n0', 'r1') }),
  dom0({ op: 'WRITE', path: '/d/shared', value: '' }),
  dom0({ op: 'SET_PERMS', path: '/d/shared', perms: perms('r0', 'n1') }),
  dom0({ op: 'WRITE', path: '/local/domain/2/control', value: '' }),
  dom0({ op: 'SET_PERMS', path: '/local/domain/2/control', perms: perms('n0', 'r2') }),
  dom0({ op: 'SET_PERMS', path: '@releaseDomain', perms: perms('n0', 'r2') }),
  onGuest(1, { op: 'READ', path: 'name' }),
  ...reintroduce(1),
  ...reintroduce(2),
  onGuest(1, { op: 'READ', path: 'name' }),
  dom0({ op: 'WRITE', path: '/local/domain/1/name', value: 'new' }),
  onGuest(1, { op: 'READ', path: 'name' }),
  onGuest(1, { op: 'WATCH', path: '/d/shared/c', token: 'w' }),
  dom0({ op: 'WRITE', path: '/d/shared/c', value: '' }),
  onGuest(2, { op: 'WATCH', path: 'control', token: 'w' }),
  onGuest(2, { op: 'WATCH', path: '@releaseDomain', token: 'w' }),
  dom0({ op: 'RM', path: '/local/domain/2/control' }),
  dom0({ op: 'RELEASE', domid: 1 }),
];

/**
 * A commit judges who may see each node's event against the store as committed so far, in the
 * order the nodes were first touched: a child written before its parent's permissions change is
 * judged by the old ones, a child written after by the new ones.
 */
const opened: ScriptRequest = { op: 'SET_PERMS', path: 'data', perms: perms('r1') };
const orders: ScriptRequest[][] = [
  [{ op: 'WRITE', path: 'data/c', value: 'v' }, opened],
  [opened, { op: 'WRITE', path: 'data/d', value: 'v' }],
];
export const COMMIT_NODE_BY_NODE_SCRIPT: Script = [
  introduce(1),
  introduce(2),
  dom0({ op: 'WRITE', path: '/local/domain/1/data', value: '' }),
  onGuest(2, { op: 'WATCH', path: '/local/domain/1/data', token: 'w' }),
  ...orders.flatMap((changes): Step[] => [
    dom0({ op: 'SET_PERMS', path: '/local/domain/1/data', perms: perms('n1') }),
    onGuest(1, { op: 'TRANSACTION_START' }),
    ...changes.map((change) => onGuest(1, change, { started: 0 })),
    onGuest(1, { op: 'TRANSACTION_END', commit: true }, { started: 0 }),
  ]),
];
