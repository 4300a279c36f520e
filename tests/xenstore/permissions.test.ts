import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canRead,
  canWrite,
  formatPermission,
  parsePermission,
  parsePermissions,
} from '../../src/xenstore/permissions.ts';
import { permission } from './arbitraries.ts';

describe('permissions', () => {
  it('round-trips through their wire form', () => {
    fc.assert(
      fc.property(permission, (p) => {
        expect(parsePermission(formatPermission(p))).toEqual(p);
      }),
    );
  });

  it('reads domids as strtol base 0 does', () => {
    expect(parsePermission('r0x10')).toEqual({ access: 'r', domid: 16 });
    expect(parsePermission('b010')).toEqual({ access: 'b', domid: 8 });
    expect(parsePermission('n0')).toEqual({ access: 'n', domid: 0 });
    expect(parsePermission('r 1')).toEqual({ access: 'r', domid: 1 });
    expect(parsePermission('r+7')).toEqual({ access: 'r', domid: 7 });
  });

  it('keeps 32 bits and prints them signed, as xenstored does', () => {
    expect(formatPermission(parsePermission('r-1'))).toBe('r-1');
    expect(formatPermission(parsePermission('r4294967295'))).toBe('r-1');
    expect(formatPermission(parsePermission('r99999999999999999999'))).toBe('r-1');
    expect(formatPermission(parsePermission('w0x100000005'))).toBe('w5');
  });

  it.each(['x0', 'r', 'rabc', 'r1x', 'r0x', 'R1', '', 'r08', 'r 1x', 'r '])(
    'rejects %j with EINVAL',
    (text) => {
      expect(() => parsePermission(text)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    },
  );

  it('needs at least one entry', () => {
    expect(() => parsePermissions([])).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('knows which letters grant what', () => {
    expect([canRead('r'), canRead('w'), canRead('b'), canRead('n')]).toEqual([
      true,
      false,
      true,
      false,
    ]);
    expect([canWrite('r'), canWrite('w'), canWrite('b'), canWrite('n')]).toEqual([
      false,
      true,
      true,
      false,
    ]);
  });
});
