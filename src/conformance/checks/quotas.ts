import { type Message, MessageType, type Request, toText } from '../../xenstore/index.ts';
import { type Check, checks } from '../check.ts';
import { type CheckConnection, describeMessage, expectEqual } from '../connection.ts';
import type { CheckContext, Guest } from '../context.ts';
import { core, domainCode, transactionCode, watchCode } from './sources.ts';

/** C 4.17's defaults (`xenstored_core.c`): what the checks expect of a guest. */
const NODES_PER_DOMAIN = 1000;
const WATCHES_PER_DOMAIN = 128;
const TRANSACTIONS_PER_DOMAIN = 10;
const PERMISSIONS_PER_NODE = 5;
const NODE_RECORD_MAX = 2048;

const NODES = [core('create_node'), domainCode('domain_nbentry_inc')];
const WATCHES = [watchCode('do_watch'), domainCode('domain_watch')];
const TRANSACTIONS = [transactionCode('do_transaction_start')];
const SIZE = [core('write_node_raw')];
const PERMS = [core('do_set_perms')];

/**
 * How a run of requests went: the number answered with success before the first error, that
 * error, and whether every later reply was the same error.
 */
function tally(replies: readonly Message[]): {
  succeeded: number;
  error?: string;
  uniform: boolean;
} {
  const first = replies.findIndex((reply) => reply.type === MessageType.ERROR);
  if (first < 0) return { succeeded: replies.length, uniform: true };
  const error = toText(replies[first]!.payload).replace(/\0$/, '');
  const uniform = replies
    .slice(first)
    .every((reply) => describeMessage(reply) === describeMessage(replies[first]!));
  return { succeeded: first, error, uniform };
}

/**
 * Directories the quota checks spread their nodes over: a node's record holds its children's
 * names, so a thousand children of one node would hit the node-size quota first.
 */
const SPREAD = 40;

/**
 * `count` WRITEs creating nodes spread over `d0` … `d39` below `prefix` (relative paths without
 * one): the guests' checks create those directories first, dom0's leave them to the WRITEs.
 */
function creations(count: number, prefix = ''): Request[] {
  return Array.from({ length: count }, (_, i) => ({
    op: 'WRITE' as const,
    path: `${prefix}d${i % SPREAD}/n${i}`,
    value: Buffer.alloc(0),
  }));
}

/** Creates the spreading directories in the guest's home; the guest then owns `SPREAD + 1` nodes. */
async function spread(conn: CheckConnection): Promise<void> {
  const replies = await conn.pipeline(
    Array.from({ length: SPREAD }, (_, i) => ({ op: 'MKDIR' as const, path: `d${i}` })),
  );
  expectEqual(tally(replies), { succeeded: SPREAD, uniform: true }, 'creating the directories');
}

/** A guest that owns as many nodes as it may: creating `extra` is ENOSPC. */
async function atNodeQuota(t: CheckContext): Promise<Guest> {
  const guest = await t.guest();
  await spread(guest.conn);
  await guest.conn.pipeline(creations(NODES_PER_DOMAIN));
  await guest.conn.fails({ op: 'WRITE', path: 'extra', value: Buffer.alloc(0) }, 'ENOSPC');
  return guest;
}

/** `count` WATCHes of `path` with the tokens `t0`, `t1`, … */
function watchRequests(path: string, count: number): Request[] {
  return Array.from({ length: count }, (_, i) => ({ op: 'WATCH' as const, path, token: `t${i}` }));
}

/** Starts `count` transactions at once. */
function starts(conn: CheckConnection, count: number): Promise<Message[]> {
  return conn.pipeline(Array.from({ length: count }, () => ({ op: 'TRANSACTION_START' as const })));
}

export const quotaChecks: Check[] = checks('quotas', {
  'nodes-per-domain': {
    rule: `A guest may own ${NODES_PER_DOMAIN} nodes; creating one more is ENOSPC`,
    level: 'c-4.17',
    needs: ['guests'],
    sources: NODES,
    async run(t) {
      const guest = await t.guest();
      await spread(guest.conn);
      const replies = await guest.conn.pipeline(creations(NODES_PER_DOMAIN));
      const room = NODES_PER_DOMAIN - SPREAD - 1;
      expectEqual(
        tally(replies),
        { succeeded: room, error: 'ENOSPC', uniform: true },
        'the creations',
      );
    },
  },
  'nodes-freed-by-rm': {
    rule: 'Removing a node a guest owned lets it create another',
    level: 'c-4.17',
    needs: ['guests'],
    sources: NODES,
    async run(t) {
      const guest = await atNodeQuota(t);
      await guest.conn.rm('d0/n0');
      await guest.conn.write('extra', '');
    },
  },
  'nodes-refused-write-creates-nothing': {
    rule: 'A creation refused with ENOSPC leaves no node behind',
    level: 'c-4.17',
    needs: ['guests'],
    sources: NODES,
    async run(t) {
      const guest = await atNodeQuota(t);
      await guest.conn.fails({ op: 'WRITE', path: 'extra/deep', value: Buffer.alloc(0) }, 'ENOSPC');
      await (await t.admin()).fails({ op: 'READ', path: `${guest.home}/extra` }, 'ENOENT');
    },
  },
  'nodes-dom0-exempt': {
    rule: `dom0 is not held to the node quota: it creates more than ${NODES_PER_DOMAIN} nodes`,
    level: 'c-4.17',
    sources: NODES,
    async run(t) {
      const conn = await t.dom0();
      const replies = await conn.pipeline(creations(NODES_PER_DOMAIN + 50, `${t.base}/`));
      expectEqual(
        tally(replies),
        { succeeded: NODES_PER_DOMAIN + 50, uniform: true },
        'the creations',
      );
    },
  },
  'watches-per-domain': {
    rule: `A guest may hold ${WATCHES_PER_DOMAIN} watches and one more (the quota is checked before counting); the next WATCH is E2BIG`,
    level: 'c-4.17',
    needs: ['guests'],
    sources: WATCHES,
    async run(t) {
      const guest = await t.guest({ home: false });
      const replies = await guest.conn.pipeline(watchRequests(t.base, WATCHES_PER_DOMAIN + 5));
      expectEqual(
        tally(replies),
        { succeeded: WATCHES_PER_DOMAIN + 1, error: 'E2BIG', uniform: true },
        'the watches',
      );
    },
  },
  'watches-freed-by-unwatch': {
    rule: 'UNWATCH gives back room under the watch quota',
    level: 'c-4.17',
    needs: ['guests'],
    sources: WATCHES,
    async run(t) {
      const guest = await t.guest({ home: false });
      await guest.conn.pipeline(watchRequests(t.base, WATCHES_PER_DOMAIN + 1));
      await guest.conn.fails({ op: 'WATCH', path: t.base, token: 'extra' }, 'E2BIG');
      await guest.conn.unwatch(t.base, 't0');
      await guest.conn.ok({ op: 'WATCH', path: t.base, token: 'extra' });
    },
  },
  'watches-dom0-exempt': {
    rule: `dom0 is not held to the watch quota: it sets more than ${WATCHES_PER_DOMAIN} watches`,
    level: 'c-4.17',
    sources: WATCHES,
    async run(t) {
      const conn = await t.dom0();
      const replies = await conn.pipeline(watchRequests(t.base, WATCHES_PER_DOMAIN + 20));
      expectEqual(
        tally(replies),
        { succeeded: WATCHES_PER_DOMAIN + 20, uniform: true },
        'the watches',
      );
    },
  },
  'transactions-per-domain': {
    rule: `A guest may open ${TRANSACTIONS_PER_DOMAIN} transactions and one more (the quota is checked before counting); the next is ENOSPC`,
    level: 'c-4.17',
    needs: ['guests'],
    sources: TRANSACTIONS,
    async run(t) {
      const guest = await t.guest({ home: false });
      const replies = await starts(guest.conn, TRANSACTIONS_PER_DOMAIN + 4);
      expectEqual(
        tally(replies),
        { succeeded: TRANSACTIONS_PER_DOMAIN + 1, error: 'ENOSPC', uniform: true },
        'the transactions started',
      );
    },
  },
  'transactions-freed-by-end': {
    rule: 'Ending a transaction gives back room under the transaction quota',
    level: 'c-4.17',
    needs: ['guests'],
    sources: TRANSACTIONS,
    async run(t) {
      const guest = await t.guest({ home: false });
      const replies = await starts(guest.conn, TRANSACTIONS_PER_DOMAIN + 2);
      const last = replies.find((reply) => reply.type === MessageType.TRANSACTION_START);
      const tx = Number(toText(last!.payload).replace(/\0$/, ''));
      await guest.conn.ok({ op: 'TRANSACTION_END', commit: false }, tx);
      await guest.conn.start();
    },
  },
  'node-size-limit': {
    rule: `A guest's node record (value, permissions, children) must stay under ${NODE_RECORD_MAX} bytes`,
    level: 'c-4.17',
    needs: ['guests'],
    sources: SIZE,
    async run(t) {
      const guest = await t.guest();
      await guest.conn.write('big', 'x'.repeat(2015));
      await guest.conn.fails(
        { op: 'WRITE', path: 'big', value: Buffer.alloc(2016, 120) },
        'ENOSPC',
      );
      expectEqual((await guest.conn.read('big')).length, 2015, 'the length kept');
    },
  },
  'node-size-counts-permissions': {
    rule: 'Each permission entry counts against the node record size',
    level: 'c-4.17',
    needs: ['guests'],
    sources: SIZE,
    async run(t) {
      const guest = await t.guest();
      await guest.conn.write('big', 'x'.repeat(2008));
      await guest.conn.setPermsFails('big', [`n${guest.domid}`, 'r0'], 'ENOSPC');
    },
  },
  'node-size-dom0-exempt': {
    rule: 'dom0 is not held to the node record size',
    level: 'c-4.17',
    sources: SIZE,
    async run(t) {
      const conn = await t.dom0();
      await conn.write(t.path('big'), 'x'.repeat(3000));
      expectEqual((await conn.read(t.path('big'))).length, 3000, 'the length');
    },
  },
  'permissions-per-node': {
    rule: `A guest may set ${PERMISSIONS_PER_NODE} permission entries; ${PERMISSIONS_PER_NODE + 1} is ENOSPC`,
    level: 'c-4.17',
    needs: ['guests'],
    sources: PERMS,
    async run(t) {
      const guest = await t.guest();
      await guest.conn.write('n', '');
      const entries = (count: number) => [
        `n${guest.domid}`,
        ...Array.from({ length: count - 1 }, (_, i) => `r${i}`),
      ];
      await guest.conn.setPerms('n', entries(PERMISSIONS_PER_NODE));
      await guest.conn.setPermsFails('n', entries(PERMISSIONS_PER_NODE + 1), 'ENOSPC');
    },
  },
  'permissions-dom0-exempt': {
    rule: 'dom0 is not held to the permission-entry quota',
    level: 'c-4.17',
    sources: PERMS,
    async run(t) {
      const conn = await t.dom0();
      const entries = ['n0', ...Array.from({ length: 10 }, (_, i) => `r${i + 1}`)];
      await conn.setPerms(t.base, entries);
      expectEqual(await conn.getPerms(t.base), entries, 'the permissions');
    },
  },
});
