import { MessageType, toText } from '../../xenstore/index.ts';
import { type Check, CheckFailure, type CheckSpec, checks } from '../check.ts';
import { type CheckConnection, describeMessage, expectEqual, expectError } from '../connection.ts';
import type { CheckContext } from '../context.ts';
import { core, doc, transactionCode } from './sources.ts';

const START = [doc('TRANSACTION_START'), transactionCode('do_transaction_start')];
const END = [doc('TRANSACTION_END'), transactionCode('do_transaction_end')];
const ISOLATION = [doc('TRANSACTION_START (reads and writes happen on a copy)')];
const CONFLICTS = [doc('TRANSACTION_END (EAGAIN)'), transactionCode('check_transaction')];
const LOOKUP = [core('process_message'), transactionCode('transaction_lookup')];

/** TRANSACTION_END(commit) must fail with EAGAIN. */
async function expectConflict(conn: CheckConnection, tx: number): Promise<void> {
  expectError(await conn.end(tx, true), 'EAGAIN', 'TRANSACTION_END', conn.label);
}

/**
 * A connection with an open transaction, and another connection outside it. The nodes in
 * `before` are written (empty unless given a value) before the transaction starts, so that
 * servers taking a snapshot at the start and servers copying on first touch see the same.
 */
async function pair(
  t: CheckContext,
  before: Readonly<Record<string, string>> = {},
): Promise<[CheckConnection, number, CheckConnection]> {
  const outside = await t.dom0();
  for (const [name, value] of Object.entries(before)) await outside.write(t.path(name), value);
  const inside = await t.dom0();
  const tx = await inside.start();
  return [inside, tx, outside];
}

/** A new connection and a transaction started on it. */
async function started(t: CheckContext): Promise<[CheckConnection, number]> {
  const conn = await t.dom0();
  return [conn, await conn.start()];
}

/** What a conflict check does: a transaction, a change outside it, and what must follow. */
interface Conflict {
  /** Nodes written (with these values) before the transaction starts. */
  readonly before?: Readonly<Record<string, string>>;
  /** The transaction's requests. */
  inside(conn: CheckConnection, tx: number, t: CheckContext): Promise<unknown>;
  /** The change made outside before the commit. */
  outside(conn: CheckConnection, t: CheckContext): Promise<unknown>;
  /** Checked once the commit failed with EAGAIN. */
  after?(
    inside: CheckConnection,
    tx: number,
    outside: CheckConnection,
    t: CheckContext,
  ): Promise<unknown>;
}

/** The commit must fail with EAGAIN after `conflict`'s steps. */
function conflicting(
  rule: string,
  level: CheckSpec['level'],
  sources: string[],
  conflict: Conflict,
): CheckSpec {
  return {
    rule,
    level,
    sources,
    async run(t) {
      const [inside, tx, outside] = await pair(t, conflict.before);
      await conflict.inside(inside, tx, t);
      await conflict.outside(outside, t);
      await expectConflict(inside, tx);
      await conflict.after?.(inside, tx, outside, t);
    },
  };
}

/** Two connections, each with a transaction started after `names` were written (empty). */
async function twoTransactions(
  t: CheckContext,
  names: string[],
): Promise<[[CheckConnection, number], [CheckConnection, number]]> {
  const admin = await t.admin();
  for (const name of names) await admin.write(t.path(...name.split('/')), '0');
  const one = await t.dom0();
  const two = await t.dom0();
  return [
    [one, await one.start()],
    [two, await two.start()],
  ];
}

export const transactionChecks: Check[] = checks('transactions', {
  'start-returns-id': {
    rule: 'TRANSACTION_START answers a non-zero unsigned decimal id and a nul',
    level: 'documented',
    sources: START,
    async run(t) {
      const conn = await t.dom0();
      const text = toText(await conn.ok({ op: 'TRANSACTION_START' }));
      if (!/^[1-9]\d*\0$/.test(text) || Number(text.slice(0, -1)) > 0xffff_ffff) {
        throw new CheckFailure(`TRANSACTION_START answered ${JSON.stringify(text)}`);
      }
    },
  },
  'several-open': {
    rule: 'A connection may hold several open transactions with distinct ids',
    level: 'c-4.17',
    sources: START,
    async run(t) {
      const conn = await t.dom0();
      // Existing nodes, so that the transactions do not all extend the same parent.
      for (const i of [0, 1, 2]) await conn.write(t.path(`t${i}`), '');
      const ids = [await conn.start(), await conn.start(), await conn.start()];
      expectEqual(new Set(ids).size, 3, 'the number of distinct ids');
      for (const [i, tx] of ids.entries()) await conn.write(t.path(`t${i}`), String(i), tx);
      for (const tx of ids) await conn.commit(tx);
      const values = [
        await conn.read(t.path('t0')),
        await conn.read(t.path('t1')),
        await conn.read(t.path('t2')),
      ];
      expectEqual(values, ['0', '1', '2'], 'the committed values');
    },
  },
  'start-inside-transaction-ebusy': {
    rule: 'TRANSACTION_START carrying the tx_id of an open transaction is EBUSY (no nesting)',
    level: 'c-4.17',
    sources: [doc('TRANSACTION_START (non-0 tx_id is not legal)'), ...START],
    async run(t) {
      const [conn, tx] = await started(t);
      await conn.fails({ op: 'TRANSACTION_START' }, 'EBUSY', tx);
    },
  },
  'start-unknown-tx-id-enoent': {
    rule: 'TRANSACTION_START carrying a tx_id that names no transaction is ENOENT',
    level: 'c-4.17',
    sources: [doc('TRANSACTION_START (non-0 tx_id is not legal)'), ...LOOKUP],
    async run(t) {
      const conn = await t.dom0();
      await conn.fails({ op: 'TRANSACTION_START' }, 'ENOENT', 0x5151);
    },
  },
  'unknown-tx-id-enoent': {
    rule: 'A request carrying a tx_id that names no open transaction is ENOENT',
    level: 'c-4.17',
    sources: LOOKUP,
    async run(t) {
      const conn = await t.dom0();
      await conn.fails(
        { op: 'WRITE', path: t.path('x'), value: Buffer.from('1') },
        'ENOENT',
        0x5151,
      );
      await conn.fails({ op: 'READ', path: t.path('x') }, 'ENOENT');
    },
  },
  'ids-per-connection': {
    rule: "One connection cannot use another connection's transaction: ENOENT",
    level: 'c-4.17',
    sources: LOOKUP,
    async run(t) {
      const [, tx, outside] = await pair(t);
      await outside.fails({ op: 'READ', path: t.base }, 'ENOENT', tx);
    },
  },
  'end-without-tx-id-enoent': {
    rule: 'TRANSACTION_END with tx_id 0 is ENOENT',
    level: 'c-4.17',
    sources: END,
    async run(t) {
      const conn = await t.dom0();
      await conn.fails({ op: 'TRANSACTION_END', commit: true }, 'ENOENT');
    },
  },
  'end-bad-payload-einval': {
    rule: 'TRANSACTION_END with a payload other than T or F is EINVAL; the transaction stays',
    level: 'c-4.17',
    sources: END,
    async run(t) {
      const [conn, tx] = await started(t);
      await conn.write(t.path('x'), '1', tx);
      await conn.rawFails(MessageType.TRANSACTION_END, 'X\0', 'EINVAL', tx);
      await conn.commit(tx);
      expectEqual(await conn.read(t.path('x')), '1', 'the committed value');
    },
  },
  'write-invisible-outside': {
    rule: 'A write inside a transaction is invisible to other connections until commit',
    level: 'documented',
    sources: ISOLATION,
    async run(t) {
      const [inside, tx, outside] = await pair(t);
      await inside.write(t.path('x'), 'new', tx);
      await outside.fails({ op: 'READ', path: t.path('x') }, 'ENOENT');
    },
  },
  'write-invisible-same-connection': {
    rule: 'A write inside a transaction is invisible to the same connection outside it',
    level: 'c-4.17',
    sources: ISOLATION,
    async run(t) {
      const [conn, tx] = await started(t);
      await conn.write(t.path('x'), 'new', tx);
      await conn.fails({ op: 'READ', path: t.path('x') }, 'ENOENT');
    },
  },
  'reads-own-writes': {
    rule: 'A transaction reads its own writes',
    level: 'documented',
    sources: ISOLATION,
    async run(t) {
      const [conn, tx] = await started(t);
      await conn.write(t.path('x'), 'mine', tx);
      expectEqual(await conn.read(t.path('x'), tx), 'mine', 'the value inside');
    },
  },
  'directory-inside': {
    rule: 'DIRECTORY inside a transaction lists the children it created',
    level: 'documented',
    sources: ISOLATION,
    async run(t) {
      const [conn, tx] = await started(t);
      await conn.write(t.path('a'), '', tx);
      expectEqual(await conn.directory(t.base, tx), ['a'], 'the children inside');
      expectEqual(await conn.directory(t.base), [], 'the children outside');
    },
  },
  'rm-invisible-outside': {
    rule: 'RM inside a transaction leaves the node visible outside until commit',
    level: 'documented',
    sources: ISOLATION,
    async run(t) {
      const [inside, tx, outside] = await pair(t, { x: 'here' });
      await inside.rm(t.path('x'), tx);
      await inside.fails({ op: 'READ', path: t.path('x') }, 'ENOENT', tx);
      expectEqual(await outside.read(t.path('x')), 'here', 'the value outside');
    },
  },
  'set-perms-invisible-outside': {
    rule: 'SET_PERMS inside a transaction is invisible outside until commit',
    level: 'documented',
    sources: ISOLATION,
    async run(t) {
      const [inside, tx, outside] = await pair(t);
      await inside.setPerms(t.base, ['r0'], tx);
      expectEqual(await inside.getPerms(t.base, tx), ['r0'], 'the permissions inside');
      expectEqual(await outside.getPerms(t.base), ['n0'], 'the permissions outside');
    },
  },
  'commit-publishes': {
    rule: "A committed transaction's changes become visible",
    level: 'documented',
    sources: END,
    async run(t) {
      const [inside, tx, outside] = await pair(t);
      await inside.write(t.path('x'), 'done', tx);
      await inside.mkdir(t.path('d'), tx);
      await inside.commit(tx);
      expectEqual(await outside.read(t.path('x')), 'done', 'the value');
      expectEqual((await outside.directory(t.base)).sort(), ['d', 'x'], 'the children');
    },
  },
  'abort-discards': {
    rule: 'TRANSACTION_END F discards the changes',
    level: 'documented',
    sources: END,
    async run(t) {
      const [inside, tx, outside] = await pair(t);
      await inside.write(t.path('x'), 'gone', tx);
      await inside.ok({ op: 'TRANSACTION_END', commit: false }, tx);
      await outside.fails({ op: 'READ', path: t.path('x') }, 'ENOENT');
    },
  },
  'id-gone-after-commit': {
    rule: 'After a commit the tx_id names no transaction',
    level: 'documented',
    sources: END,
    async run(t) {
      const [conn, tx] = await started(t);
      await conn.commit(tx);
      await conn.fails({ op: 'READ', path: t.base }, 'ENOENT', tx);
    },
  },
  'id-gone-after-abort': {
    rule: 'After an abort the tx_id names no transaction',
    level: 'documented',
    sources: END,
    async run(t) {
      const [conn, tx] = await started(t);
      await conn.ok({ op: 'TRANSACTION_END', commit: false }, tx);
      await conn.fails({ op: 'TRANSACTION_END', commit: false }, 'ENOENT', tx);
    },
  },
  'id-gone-after-eagain': conflicting(
    'After a commit failing with EAGAIN the tx_id names no transaction',
    'documented',
    END,
    {
      before: { x: '0' },
      inside: (conn, tx, t) => conn.write(t.path('x'), 'a', tx),
      outside: (conn, t) => conn.write(t.path('x'), 'b'),
      after: (inside, tx, _, t) => inside.fails({ op: 'READ', path: t.base }, 'ENOENT', tx),
    },
  ),
  'conflict-write-write': conflicting(
    'A node written inside and then outside makes the commit fail with EAGAIN',
    'documented',
    CONFLICTS,
    {
      before: { x: '0' },
      inside: (conn, tx, t) => conn.write(t.path('x'), 'inside', tx),
      outside: (conn, t) => conn.write(t.path('x'), 'outside'),
      after: async (_, __, outside, t) =>
        expectEqual(await outside.read(t.path('x')), 'outside', 'the value after EAGAIN'),
    },
  ),
  'conflict-read-write': conflicting(
    'A node read inside and then written outside makes the commit fail with EAGAIN',
    'documented',
    CONFLICTS,
    {
      before: { x: '0' },
      async inside(conn, tx, t) {
        await conn.read(t.path('x'), tx);
        await conn.write(t.path('y'), 'derived', tx);
      },
      outside: (conn, t) => conn.write(t.path('x'), '1'),
      after: (_, __, outside, t) => outside.fails({ op: 'READ', path: t.path('y') }, 'ENOENT'),
    },
  ),
  'conflict-new-sibling': conflicting(
    'A child created outside under a parent the transaction extended conflicts',
    'c-4.17',
    CONFLICTS,
    {
      inside: (conn, tx, t) => conn.write(t.path('a'), '1', tx),
      outside: (conn, t) => conn.write(t.path('b'), '2'),
    },
  ),
  'conflict-deleted-read-node': conflicting(
    'A node read inside and deleted outside makes the commit fail with EAGAIN',
    'documented',
    CONFLICTS,
    {
      before: { x: '0' },
      async inside(conn, tx, t) {
        await conn.read(t.path('x'), tx);
        await conn.write(t.path('y'), '1', tx);
      },
      outside: (conn, t) => conn.rm(t.path('x')),
    },
  ),
  'conflict-created-missing-node': conflicting(
    'A node found missing inside and created outside makes the commit fail with EAGAIN',
    'documented',
    CONFLICTS,
    {
      async inside(conn, tx, t) {
        await conn.fails({ op: 'READ', path: t.path('x') }, 'ENOENT', tx);
        await conn.write(t.path('y'), '1', tx);
      },
      outside: (conn, t) => conn.write(t.path('x'), 'appeared'),
    },
  ),
  'disjoint-both-commit': {
    rule: 'Transactions touching disjoint nodes both commit',
    level: 'c-4.17',
    sources: [
      doc('TRANSACTION_END (only conflicting writes)'),
      transactionCode('check_transaction'),
    ],
    async run(t) {
      const [[one, tx1], [two, tx2]] = await twoTransactions(t, ['a/x', 'b/x']);
      await one.write(t.path('a', 'x'), '1', tx1);
      await two.write(t.path('b', 'x'), '2', tx2);
      await one.commit(tx1);
      await two.commit(tx2);
    },
  },
  'second-committer-eagain': {
    rule: 'Of two transactions writing the same node, the second to commit gets EAGAIN',
    level: 'documented',
    sources: CONFLICTS,
    async run(t) {
      const [[one, tx1], [two, tx2]] = await twoTransactions(t, ['x']);
      await one.write(t.path('x'), '1', tx1);
      await two.write(t.path('x'), '2', tx2);
      await one.commit(tx1);
      await expectConflict(two, tx2);
      expectEqual(await one.read(t.path('x')), '1', 'the value');
    },
  },
  'eagain-discards': conflicting(
    'A commit failing with EAGAIN applies none of the changes',
    'documented',
    CONFLICTS,
    {
      before: { x: '0' },
      async inside(conn, tx, t) {
        await conn.write(t.path('x'), 'in', tx);
        await conn.write(t.path('other'), 'in', tx);
      },
      outside: (conn, t) => conn.write(t.path('x'), 'out'),
      after: (_, __, outside, t) => outside.fails({ op: 'READ', path: t.path('other') }, 'ENOENT'),
    },
  ),
  'not-a-snapshot': {
    rule: 'C 4.17 copies a node on first touch: one first read after an outside change shows it',
    level: 'c-4.17',
    sources: [transactionCode('transaction_prepend'), transactionCode('access_node')],
    async run(t) {
      const [inside, tx, outside] = await pair(t);
      await outside.write(t.path('x'), 'late');
      expectEqual(await inside.read(t.path('x'), tx), 'late', 'the value first read inside');
    },
  },
  'read-value-kept': {
    rule: 'A node read inside keeps the value first seen despite outside writes',
    level: 'documented',
    sources: ISOLATION,
    async run(t) {
      const [inside, tx, outside] = await pair(t, { x: 'first' });
      await inside.read(t.path('x'), tx);
      await outside.write(t.path('x'), 'second');
      expectEqual(await inside.read(t.path('x'), tx), 'first', 'the value read again inside');
    },
  },
  'read-only-commits': {
    rule: 'A transaction that only read commits when nothing it read changed',
    level: 'documented',
    sources: CONFLICTS,
    async run(t) {
      const [inside, tx] = await pair(t, { x: '1' });
      await inside.read(t.path('x'), tx);
      await inside.commit(tx);
    },
  },
  'events-only-on-commit': {
    rule: 'Changes inside a transaction fire watches only when it commits',
    level: 'documented',
    sources: [doc('WATCH (changes in transactions fire on commit)')],
    async run(t) {
      const watching = await t.dom0();
      await watching.watch(t.base, 'tok');
      const [conn, tx] = await started(t);
      await conn.write(t.path('x'), '1', tx);
      await watching.expectEvents([], 'the events before commit');
      await conn.commit(tx);
      await watching.expectEvents([[t.path('x'), 'tok']], 'the events after commit');
    },
  },
  'no-events-on-abort': {
    rule: 'An aborted transaction fires nothing',
    level: 'documented',
    sources: [doc('WATCH (changes in transactions fire on commit)')],
    async run(t) {
      const watching = await t.dom0();
      await watching.watch(t.base, 'tok');
      const [conn, tx] = await started(t);
      await conn.write(t.path('x'), '1', tx);
      await conn.ok({ op: 'TRANSACTION_END', commit: false }, tx);
      await watching.expectEvents([]);
    },
  },
  'no-events-on-eagain': {
    rule: 'A commit failing with EAGAIN fires nothing for its own changes',
    level: 'documented',
    sources: [doc('WATCH (changes in transactions fire on commit)')],
    async run(t) {
      const admin = await t.admin();
      await admin.write(t.path('x'), '0');
      const watching = await t.dom0();
      await watching.watch(t.path('mine'), 'tok');
      const [conn, tx] = await started(t);
      await conn.read(t.path('x'), tx);
      await conn.write(t.path('mine'), '1', tx);
      await admin.write(t.path('x'), '1');
      await expectConflict(conn, tx);
      await watching.expectEvents([]);
    },
  },
  'commit-events-in-touch-order': {
    rule: 'A commit fires its events in the order the nodes were first touched',
    level: 'c-4.17',
    sources: [transactionCode('finalize_transaction')],
    async run(t) {
      const watching = await t.dom0();
      await watching.watch(t.base, 'tok');
      const [conn, tx] = await started(t);
      for (const name of ['m', 'c', 'x']) await conn.write(t.path(name), '1', tx);
      await conn.commit(tx);
      await watching.expectEvents(['m', 'c', 'x'].map((name) => [t.path(name), 'tok']));
    },
  },
  'commit-order-counts-reads': {
    rule: 'A node first read, then written, takes its place in the commit order from the read',
    level: 'c-4.17',
    sources: [transactionCode('finalize_transaction'), transactionCode('access_node')],
    async run(t) {
      const watching = await t.dom0();
      const conn = await t.dom0();
      await conn.write(t.path('a'), '');
      await conn.write(t.path('b'), '');
      await watching.watch(t.base, 'tok');
      const tx = await conn.start();
      await conn.read(t.path('b'), tx);
      await conn.write(t.path('a'), '1', tx);
      await conn.write(t.path('b'), '1', tx);
      await conn.commit(tx);
      await watching.expectEvents(['b', 'a'].map((name) => [t.path(name), 'tok']));
    },
  },
  'commit-one-event-per-node': {
    rule: 'A commit fires one event per changed node, whatever the kinds and number of changes',
    level: 'c-4.17',
    sources: [transactionCode('finalize_transaction')],
    async run(t) {
      const watching = await t.dom0();
      const conn = await t.dom0();
      await conn.write(t.path('a'), '');
      await conn.write(t.path('b'), '');
      await watching.watch(t.base, 'tok');
      const tx = await conn.start();
      await conn.write(t.path('c'), '1', tx);
      await conn.rm(t.path('a'), tx);
      await conn.write(t.path('b'), '2', tx);
      await conn.setPerms(t.path('c'), ['n0', 'r1'], tx);
      await conn.write(t.path('b'), '3', tx);
      await conn.commit(tx);
      await watching.expectEvents(['c', 'a', 'b'].map((name) => [t.path(name), 'tok']));
    },
  },
  'disconnect-discards': {
    rule: 'Closing a connection discards its open transactions',
    level: 'c-4.17',
    sources: [transactionCode('conn_delete_all_transactions')],
    async run(t) {
      const [conn, tx] = await started(t);
      await conn.write(t.path('x'), 'lost', tx);
      conn.close();
      const other = await t.dom0();
      await other.fails({ op: 'READ', path: t.path('x') }, 'ENOENT');
    },
  },
  'dom0-many-transactions': {
    rule: 'dom0 is not held to the transaction quota: 20 may be open at once',
    level: 'c-4.17',
    sources: [transactionCode('do_transaction_start')],
    async run(t) {
      const conn = await t.dom0();
      for (let i = 0; i < 20; i++) await conn.start();
    },
  },
  'end-reply-echoes-tx-id': {
    rule: 'The reply to TRANSACTION_END carries the transaction id in tx_id',
    level: 'documented',
    sources: [doc('introduction (identical type, req_id and tx_id)')],
    async run(t) {
      const [conn, tx] = await started(t);
      const reply = await conn.end(tx, true);
      if (reply.type !== MessageType.TRANSACTION_END || reply.txId !== tx) {
        throw new CheckFailure(
          `TRANSACTION_END answered ${describeMessage(reply)} with tx_id ${reply.txId}`,
        );
      }
    },
  },
  'guest-transaction': {
    rule: 'A guest can start, use and commit a transaction',
    level: 'documented',
    needs: ['guests'],
    sources: START,
    async run(t) {
      const guest = await t.guest();
      const tx = await guest.conn.start();
      await guest.conn.write('data', 'in-tx', tx);
      await guest.conn.commit(tx);
      expectEqual(await (await t.admin()).read(`${guest.home}/data`), 'in-tx', 'the value');
    },
  },
});
