import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assertValidPath,
  assertValidWatchPath,
  isSubpath,
  parentPath,
  pathProblem,
  relativize,
  resolvePath,
} from '../../src/xenstore/paths.ts';
import { absolutePath, relativePath } from './arbitraries.ts';

describe('path validation', () => {
  it('accepts generated valid paths', () => {
    fc.assert(
      fc.property(fc.oneof(absolutePath, relativePath), (p) => pathProblem(p) === undefined),
    );
  });

  it.each([
    ['', 'empty'],
    ['/a//b', 'double slash'],
    ['/a/', 'trailing slash'],
    ['/a.b', 'dot'],
    ['/a b', 'space'],
    ['/a:b', 'colon'],
    ['/a%b', 'percent'],
    ['/é', 'non-ASCII'],
    ['/a\0b', 'nul'],
  ])('rejects %j (%s) with EINVAL', (path) => {
    expect(pathProblem(path)).toBeDefined();
    expect(() => assertValidPath(path)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('rejects any path with a byte outside A-Za-z0-9-/_@', () => {
    const bad = fc
      .string({ minLength: 1, maxLength: 10 })
      .filter((s) => /[^A-Za-z0-9\-/_@]/.test(s))
      .map((s) => `/x${s}`);
    fc.assert(fc.property(bad, (p) => pathProblem(p) !== undefined));
  });

  it('allows 2048 characters beyond /local/domain/<id>/ and no more, as xenstored 4.17', () => {
    const home = '/local/domain/7/';
    expect(pathProblem(home + 'a'.repeat(2048))).toBeUndefined();
    expect(pathProblem(home + 'a'.repeat(2049))).toBeDefined();
    expect(pathProblem(`/${'a'.repeat(2047)}`)).toBeUndefined();
    expect(pathProblem(`/${'a'.repeat(2048)}`)).toBeDefined();
  });

  it('treats @ paths as watch-only', () => {
    expect(() => assertValidPath('@releaseDomain')).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    expect(() => assertValidWatchPath('@releaseDomain')).not.toThrow();
    expect(() => assertValidWatchPath('@anything goes')).not.toThrow();
  });
});

describe('path relations', () => {
  it('resolves relative paths against the home and back', () => {
    expect(resolvePath('device/vif', 3)).toBe('/local/domain/3/device/vif');
    expect(resolvePath('/abs', 3)).toBe('/abs');
    expect(resolvePath('@introduceDomain', 3)).toBe('@introduceDomain');
    fc.assert(
      fc.property(
        relativePath,
        fc.nat({ max: 65535 }),
        (p, d) => relativize(resolvePath(p, d), d) === p,
      ),
    );
  });

  it('matches subpaths component-wise', () => {
    expect(isSubpath('/a/b', '/a/b')).toBe(true);
    expect(isSubpath('/a/b', '/a/b/c')).toBe(true);
    expect(isSubpath('/a/b', '/a/bc')).toBe(false);
    expect(isSubpath('/', '/anything')).toBe(true);
    expect(isSubpath('/a/b/c', '/a/b')).toBe(false);
    fc.assert(
      fc.property(
        absolutePath,
        (p) => p === '/' || (isSubpath(parentPath(p), p) && !isSubpath(p, parentPath(p))),
      ),
    );
  });
});
