import fc from 'fast-check';
import type { Access, Permission } from '../../xenstore/permissions.ts';
import { isKnownDifference } from './known-differences.ts';
import { GUEST_CONNECTION_DOMID, GUEST_DOMIDS, guestPort } from './run-script.ts';
import { CONNECTIONS, type Script, type ScriptRequest, type Step, type TxRef } from './script.ts';

/**
 * Random scripts for differential testing: small path and token pools so that requests collide
 * (conflicts, watch hits, EEXIST), plus invalid paths, payloads and types.
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
const invalidPaths = ['/d/', '/d//a', '/d/a.b', '/d/a b', '', 'r/', `${LONGEST_PATH}x`];
const path = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...validPaths) },
  { weight: 1, arbitrary: fc.constantFrom(...invalidPaths, LONGEST_PATH) },
);
const readPath = fc.oneof(
  { weight: 8, arbitrary: path },
  { weight: 1, arbitrary: fc.constant('/') },
);
const watchPath = fc.oneof(
  { weight: 6, arbitrary: path },
  { weight: 1, arbitrary: fc.constantFrom('/', '@introduceDomain', '@releaseDomain', '@other') },
);
const token = fc.constantFrom('t', 'u', '', 'a b');
const value = fc.constantFrom('', 'v', 'w', 'x\0y', 'z'.repeat(2000));
const domid = fc.constantFrom(0, ...GUEST_DOMIDS, 4);

const permission: fc.Arbitrary<Permission> = fc.record({
  access: fc.constantFrom<Access>('r', 'w', 'b', 'n'),
  domid: fc.constantFrom(0, ...GUEST_DOMIDS, 5),
});

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
      offset: fc.constantFrom(0, 1, 2, 4, 100),
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
  {
    weight: 3,
    arbitrary: fc
      .record({ domid: fc.constantFrom(...GUEST_DOMIDS), zeroPort: fc.boolean() })
      .map(({ domid, zeroPort }) => ({
        op: 'INTRODUCE' as const,
        domid,
        port: zeroPort ? 0 : guestPort(domid),
      })),
  },
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
      domid: fc.constantFrom(0, 1, 7, 0x7ff0),
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
    arbitrary: fc.record({
      op: fc.constant('CONTROL' as const),
      args: fc.constantFrom(['print', 'x'], ['bogus'], ['check'], ['quota'], ['quota-soft'], []),
    }),
  },
);

/** Malformed payloads and types a server must refuse without harm. */
const raw = fc.oneof(
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
  return fc
    .oneof(
      { weight: 40, arbitrary: fc.record({ conn, tx: txRef, request }) },
      { weight: 3, arbitrary: transactionEnd(conn) },
      { weight: 3, arbitrary: fc.record({ conn, tx: txRef, raw }) },
      {
        weight: 1,
        arbitrary: fc.record({
          conn: fc.nat(CONNECTIONS - 1),
          oversize: fc.constant(true as const),
        }),
      },
    )
    .filter((s) => !isKnownDifference(s, s.conn >= CONNECTIONS));
}

/**
 * Whether a step would end the guest's life, which the guest scripts keep going. (INTRODUCE of
 * the live guest is fine: it resets the guest's connection, as both servers do.)
 */
function endsGuest(step: Step): boolean {
  return (
    'request' in step &&
    step.request.op === 'RELEASE' &&
    step.request.domid === GUEST_CONNECTION_DOMID
  );
}

/**
 * Scripts of up to `maxLength` steps (lengths spread over the whole range, not fast-check's
 * default small sizes) on the dom0 connections; with `guest`, also on a last
 * connection speaking for domain {@link GUEST_CONNECTION_DOMID}, which the script introduces first.
 */
export function scriptArbitrary(maxLength: number, guest = false): fc.Arbitrary<Script> {
  if (!guest) return fc.array(stepArbitrary(CONNECTIONS), { minLength: 1, maxLength, size: 'max' });
  const introduce: Step = {
    conn: 0,
    tx: 'none',
    request: {
      op: 'INTRODUCE',
      domid: GUEST_CONNECTION_DOMID,
      port: guestPort(GUEST_CONNECTION_DOMID),
    },
  };
  const steps = stepArbitrary(CONNECTIONS + 1).filter((s) => !endsGuest(s));
  return fc
    .array(steps, { minLength: 1, maxLength, size: 'max' })
    .map((script) => [introduce, ...script]);
}
