import { describe, expect, it } from 'vitest';
import {
  AREAS,
  BUILT_IN_EXPECTATIONS,
  CATALOGUE,
  validateExpectations,
} from '../../src/conformance/index.ts';

const SOURCE =
  /^(docs\/misc\/xenstore\.txt: .+|xen\/include\/public\/io\/xs_wire\.h: .+|tools\/(xenstore|libs\/store)\/[a-z_]+\.c: .+|XSA-\d+)$/;

describe('the check catalogue', () => {
  it('holds at least 300 checks with distinct ids of the form area.name', () => {
    expect(CATALOGUE.length).toBeGreaterThanOrEqual(300);
    const ids = CATALOGUE.map((check) => check.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const check of CATALOGUE) {
      expect(check.id).toMatch(new RegExp(`^${check.area}\\.[a-z0-9]+(-[a-z0-9]+)*$`));
    }
  });

  it('covers every area, in report order', () => {
    const areas = CATALOGUE.map((check) => check.area);
    expect([...new Set(areas)]).toEqual([...AREAS]);
  });

  it('names for each check its rule, its sources and its level', () => {
    for (const check of CATALOGUE) {
      expect(check.rule, check.id).toMatch(/^\S.*[^.]$/);
      expect(check.sources.length, check.id).toBeGreaterThan(0);
      for (const source of check.sources) expect(source, check.id).toMatch(SOURCE);
      expect(['documented', 'c-4.17'], check.id).toContain(check.level);
    }
  });

  it.each(Object.entries(BUILT_IN_EXPECTATIONS))(
    'ships expectations for %s that name only checks of the catalogue',
    (name, expectations) => {
      expect(expectations.implementation).toBe(name);
      expect(validateExpectations(expectations, CATALOGUE, name)).toBe(expectations);
    },
  );
});
