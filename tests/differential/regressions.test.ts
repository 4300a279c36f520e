import { afterAll, beforeAll, describe, it } from 'vitest';
import { type XenInstall, xenInstall } from '../support/real-xenstored.ts';
import { expectSameBehaviour } from './property.ts';
import type { Script, ScriptRequest, Step, TxRef } from './script.ts';
import {
  type DifferentialTarget,
  GUEST_CONNECTIONS,
  guestPort,
  mockTarget,
  realTarget,
} from './targets.ts';

/**
 * Divergences the random scripts found, replayed step by step on C xenstored 4.17 and the
 * in-memory server (each failed before its fix). Connections: dom0 on 0 to 2, guest 1 on 3 and
 * guest 2 on 4 (`GUEST_CONNECTIONS`).
 */

const dom0 = (request: ScriptRequest): Step => ({ conn: 0, tx: 'none', request });
const raw = (type: number, payload: string): Step => ({
  conn: 0,
  tx: 'none',
  raw: { type, payload },
});
const guest = (domid: 1 | 2, request: ScriptRequest, tx: TxRef = 'none'): Step => ({
  conn: 2 + domid,
  tx,
  request,
});
const introduce = (domid: number) => dom0({ op: 'INTRODUCE', domid, port: guestPort(domid) });
/** A release and a new introduction, a node written in between (see the known differences). */
const reintroduce = (domid: number): Step[] => [
  dom0({ op: 'RELEASE', domid }),
  dom0({ op: 'WRITE', path: '/d', value: '' }),
  introduce(domid),
];

/** Tokens and `@` paths are bytes: events carry them back unchanged, UTF-8 or not. */
const NON_UTF8_TOKENS: Script = [
  introduce(1),
  dom0({ op: 'WRITE', path: '/local/domain/1/data', value: '' }),
  dom0({ op: 'SET_PERMS', path: '/local/domain/1/data', perms: [{ access: 'n', domid: 1 }] }),
  dom0({ op: 'WATCH', path: '/d', token: '\xe9' }),
  dom0({ op: 'WATCH', path: '@\xe9\xff', token: 't' }),
  guest(1, { op: 'WATCH', path: 'data', token: 'data\xff\x01' }),
  dom0({ op: 'WRITE', path: '/d/x', value: '\xc3' }),
  dom0({ op: 'WRITE', path: '/local/domain/1/data/c', value: 'v' }),
];

/** Every number as C's atoi reads it into 32 bits: wrapped, signed, with junk, or none. */
const ATOI_NUMBERS: Script = [
  introduce(1),
  dom0({ op: 'IS_DOMAIN_INTRODUCED', domid: '4294967297' }),
  dom0({ op: 'IS_DOMAIN_INTRODUCED', domid: '-4294967295' }),
  dom0({ op: 'IS_DOMAIN_INTRODUCED', domid: '4295000048' }),
  dom0({ op: 'GET_DOMAIN_PATH', domid: '99999999999999999999' }),
  dom0({ op: 'DIRECTORY_PART', path: '/', offset: '4294967296' }),
  dom0({ op: 'DIRECTORY_PART', path: '/', offset: '-1' }),
  dom0({ op: 'CONTROL', args: ['quota', 'abc'] }),
  dom0({ op: 'CONTROL', args: ['quota', '4294967297'] }),
  dom0({ op: 'CONTROL', args: ['quota', 'set', 'nodes', '1000abc'] }),
  dom0({ op: 'CONTROL', args: ['quota', 'set', 'nodes', '4294968296'] }),
  dom0({ op: 'CONTROL', args: ['quota', 'set', 'nodes', '0'] }),
  dom0({ op: 'CONTROL', args: ['quota-soft', 'set', 'memory', '2097152kB'] }),
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
const EXTRA_STRINGS: Script = [
  introduce(1),
  raw(19, '7\0 1\0 7\0 1\0'),
  raw(19, '7\0 \0 1\0'),
  raw(19, '7\0 1\0junk'),
  raw(19, '7\0junk'),
  raw(8, '1\0 0\0 101\0 extra\0'),
  raw(8, '1\0 0\0 101\0junk'),
  raw(4, '/d\0t\0junk'),
  raw(4, '/d\0t\0x\0'),
  raw(5, '/d\0t\0junk'),
  raw(14, '/\0n0\0junk'),
  raw(22, '/\0 0\0junk'),
  raw(22, '/\0 0\0\0'),
  raw(0, 'quota\0\0junk'),
  raw(0, 'check\0junk'),
  raw(0, 'check\0x\0'),
  raw(0, 'log\0on\0x\0'),
  raw(10, '1\0junk'),
];

/** CONTROL `quota 0`: C counts no watches or transactions of dom0's socket connections. */
const DOM0_QUOTA: Script = [
  dom0({ op: 'WATCH', path: '/d', token: 't' }),
  dom0({ op: 'TRANSACTION_START' }),
  dom0({ op: 'CONTROL', args: ['quota', '0'] }),
];

/**
 * A released guest's permission entries stay void for a new domain with its domid, also once the
 * node is written again, inherited or removed, and on @introduceDomain and @releaseDomain.
 */
const LAPSED_ENTRIES: Script = [
  introduce(1),
  introduce(2),
  dom0({ op: 'WRITE', path: '/local/domain/1/name', value: 'old' }),
  dom0({
    op: 'SET_PERMS',
    path: '/local/domain/1/name',
    perms: [
      { access: 'n', domid: 0 },
      { access: 'r', domid: 1 },
    ],
  }),
  dom0({ op: 'WRITE', path: '/d/shared', value: '' }),
  dom0({
    op: 'SET_PERMS',
    path: '/d/shared',
    perms: [
      { access: 'r', domid: 0 },
      { access: 'n', domid: 1 },
    ],
  }),
  dom0({ op: 'WRITE', path: '/local/domain/2/control', value: '' }),
  dom0({
    op: 'SET_PERMS',
    path: '/local/domain/2/control',
    perms: [
      { access: 'n', domid: 0 },
      { access: 'r', domid: 2 },
    ],
  }),
  dom0({
    op: 'SET_PERMS',
    path: '@releaseDomain',
    perms: [
      { access: 'n', domid: 0 },
      { access: 'r', domid: 2 },
    ],
  }),
  guest(1, { op: 'READ', path: 'name' }),
  ...reintroduce(1),
  ...reintroduce(2),
  guest(1, { op: 'READ', path: 'name' }),
  dom0({ op: 'WRITE', path: '/local/domain/1/name', value: 'new' }),
  guest(1, { op: 'READ', path: 'name' }),
  guest(1, { op: 'WATCH', path: '/d/shared/c', token: 'w' }),
  dom0({ op: 'WRITE', path: '/d/shared/c', value: '' }),
  guest(2, { op: 'WATCH', path: 'control', token: 'w' }),
  guest(2, { op: 'WATCH', path: '@releaseDomain', token: 'w' }),
  dom0({ op: 'RM', path: '/local/domain/2/control' }),
  dom0({ op: 'RELEASE', domid: 1 }),
];

/**
 * A commit judges who may see each node's event against the store as committed so far, in the
 * order the nodes were first touched: a child written before its parent's permissions change is
 * judged by the old ones.
 */
const COMMIT_NODE_BY_NODE: Script = [
  introduce(1),
  introduce(2),
  dom0({ op: 'WRITE', path: '/local/domain/1/data', value: '' }),
  dom0({ op: 'SET_PERMS', path: '/local/domain/1/data', perms: [{ access: 'n', domid: 1 }] }),
  guest(2, { op: 'WATCH', path: '/local/domain/1/data', token: 'w' }),
  guest(1, { op: 'TRANSACTION_START' }),
  guest(1, { op: 'WRITE', path: 'data/c', value: 'v' }, { started: 0 }),
  guest(1, { op: 'SET_PERMS', path: 'data', perms: [{ access: 'r', domid: 1 }] }, { started: 0 }),
  guest(1, { op: 'TRANSACTION_END', commit: true }, { started: 0 }),
  dom0({ op: 'SET_PERMS', path: '/local/domain/1/data', perms: [{ access: 'n', domid: 1 }] }),
  guest(1, { op: 'TRANSACTION_START' }),
  guest(1, { op: 'SET_PERMS', path: 'data', perms: [{ access: 'r', domid: 1 }] }, { started: 0 }),
  guest(1, { op: 'WRITE', path: 'data/d', value: 'v' }, { started: 0 }),
  guest(1, { op: 'TRANSACTION_END', commit: true }, { started: 0 }),
];

describe.skipIf(!xenInstall)('divergences the random scripts found', () => {
  let real: DifferentialTarget;
  let mock: DifferentialTarget;

  beforeAll(async () => {
    real = await realTarget(xenInstall as XenInstall);
    mock = await mockTarget();
  });
  afterAll(async () => {
    await real?.stop();
    await mock?.stop();
  });

  it('sends tokens and @ paths back byte for byte', async () => {
    await expectSameBehaviour(real, mock, NON_UTF8_TOKENS, GUEST_CONNECTIONS);
  });

  it('reads every number as atoi does, into 32 bits', async () => {
    await expectSameBehaviour(real, mock, ATOI_NUMBERS, GUEST_CONNECTIONS);
  });

  it('reads the strings of a request as C does', async () => {
    await expectSameBehaviour(real, mock, EXTRA_STRINGS, GUEST_CONNECTIONS);
  });

  it("counts dom0's watches and transactions as C does", async () => {
    await expectSameBehaviour(real, mock, DOM0_QUOTA, GUEST_CONNECTIONS);
  });

  it("keeps a released guest's permission entries void for the next domain", async () => {
    await expectSameBehaviour(real, mock, LAPSED_ENTRIES, GUEST_CONNECTIONS);
  });

  it('judges commit events node by node', async () => {
    await expectSameBehaviour(real, mock, COMMIT_NODE_BY_NODE, GUEST_CONNECTIONS);
  });
});
