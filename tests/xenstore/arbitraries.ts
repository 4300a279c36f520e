import fc from 'fast-check';
import type { Permission } from '../../src/xenstore/permissions.ts';
import type { Request } from '../../src/xenstore/requests.ts';

/** Generators shared by the codec property tests. */

const pathChar = fc.constantFrom(
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_@',
);
const component = fc.string({ unit: pathChar, minLength: 1, maxLength: 12 });

/** Valid absolute node paths. */
export const absolutePath = fc
  .array(component, { minLength: 0, maxLength: 6 })
  .map((parts) => `/${parts.join('/')}`);

/** Valid relative node paths. */
export const relativePath = fc
  .array(component, { minLength: 1, maxLength: 4 })
  .map((parts) => parts.join('/'))
  .filter((p) => !p.startsWith('@'));

export const nodePath = fc.oneof(absolutePath, relativePath);

/** Tokens are opaque text without nuls. */
export const token = fc.string({ unit: fc.constantFrom(...'abc XYZ 019-_/:.'), maxLength: 20 });

export const domid = fc.integer({ min: 0, max: 0x7fef });

export const permission: fc.Arbitrary<Permission> = fc.record({
  access: fc.constantFrom('r', 'w', 'b', 'n'),
  domid,
});

/** Any request a client can send, within protocol limits. */
export const request: fc.Arbitrary<Request> = fc.oneof(
  fc.record({
    op: fc.constantFrom('READ', 'MKDIR', 'RM', 'DIRECTORY', 'GET_PERMS'),
    path: nodePath,
  }),
  fc.record({
    op: fc.constant('WRITE'),
    path: nodePath,
    value: fc.uint8Array({ maxLength: 2000 }),
  }),
  fc.record({ op: fc.constant('DIRECTORY_PART'), path: nodePath, offset: fc.nat({ max: 1e6 }) }),
  fc.record({
    op: fc.constant('SET_PERMS'),
    path: nodePath,
    perms: fc.array(permission, { minLength: 1, maxLength: 6 }),
  }),
  fc.record(
    { op: fc.constant('WATCH'), path: nodePath, token, depth: fc.nat({ max: 64 }) },
    { requiredKeys: ['op', 'path', 'token'] },
  ),
  fc.record({ op: fc.constant('UNWATCH'), path: nodePath, token }),
  fc.constant({ op: 'TRANSACTION_START' } as const),
  fc.record({ op: fc.constant('TRANSACTION_END'), commit: fc.boolean() }),
  fc.record({
    op: fc.constant('INTRODUCE'),
    domid,
    gfn: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    port: fc.integer({ min: 1, max: 4095 }),
  }),
  fc.record({
    op: fc.constantFrom('RELEASE', 'RESUME', 'IS_DOMAIN_INTRODUCED', 'GET_DOMAIN_PATH'),
    domid,
  }),
  fc.record({ op: fc.constant('SET_TARGET'), domid, target: domid }),
  fc.constant({ op: 'RESET_WATCHES' } as const),
  fc.record({ op: fc.constant('CONTROL'), args: fc.array(token, { minLength: 1, maxLength: 3 }) }),
  fc.record({ op: fc.constant('GET_FEATURE'), domid }, { requiredKeys: ['op'] }),
  fc.record({ op: fc.constant('SET_FEATURE'), domid, value: fc.nat() }),
  fc.oneof(
    fc.constant({ op: 'GET_QUOTA' } as const),
    fc.record({ op: fc.constant('GET_QUOTA'), quota: component }),
    fc.record({ op: fc.constant('GET_QUOTA'), domid, quota: component }),
  ),
  fc.record(
    { op: fc.constant('SET_QUOTA'), domid, quota: component, value: fc.nat() },
    { requiredKeys: ['op', 'quota', 'value'] },
  ),
) as fc.Arbitrary<Request>;

/** Splits `bytes` into consecutive chunks at arbitrary cut points. */
export function rechunk(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(at, p));
    at = p;
  }
  chunks.push(bytes.subarray(at));
  return chunks;
}
