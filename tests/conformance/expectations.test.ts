import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CATALOGUE,
  type Check,
  type CheckResult,
  conforms,
  type Expectations,
  ExpectationsError,
  judge,
  loadExpectations,
  validateExpectations,
} from '../../src/conformance/index.ts';

const [a, b, c, d] = CATALOGUE as [Check, Check, Check, Check];

function result(check: Check, outcome: CheckResult['outcome']): CheckResult {
  return { check, outcome, durationMs: 1 };
}

const expectations: Expectations = {
  implementation: 'test',
  description: 'a test server',
  knownFailures: { [b.id]: { reason: 'known bug' }, [c.id]: { reason: 'fixed since' } },
};

describe('judging a run', () => {
  const run = judge(
    {
      results: [result(a, 'pass'), result(b, 'fail'), result(c, 'pass'), result(d, 'skip')],
    },
    expectations,
  );

  it('gives each result its verdict', () => {
    expect(run.results.map((r) => r.verdict)).toEqual(['pass', 'known', 'stale', 'skip']);
    expect(run.results[1]!.known?.reason).toBe('known bug');
    expect(run.summary).toEqual({ total: 4, pass: 1, known: 1, fail: 0, stale: 1, skip: 1 });
  });

  it('fails a run with a stale expectation', () => {
    expect(conforms(run)).toBe(false);
  });

  it('fails a run with an unlisted failure, passes one with only known ones', () => {
    expect(conforms(judge({ results: [result(a, 'fail')] }, expectations))).toBe(false);
    expect(conforms(judge({ results: [result(b, 'fail'), result(d, 'skip')] }, expectations))).toBe(
      true,
    );
  });

  it('counts every failure without expectations', () => {
    const plain = judge({ results: [result(b, 'fail')] });
    expect(plain.results[0]!.verdict).toBe('fail');
    expect(plain.expectations).toBeUndefined();
  });
});

describe('expectations files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xenwire-expect-'));
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  it('load when well formed', () => {
    const path = file('ok.json', JSON.stringify(expectations));
    expect(loadExpectations(path, CATALOGUE)).toEqual(expectations);
  });

  it.each([
    [
      'a check that does not exist',
      { ...expectations, knownFailures: { 'wire.nope': { reason: 'x' } } },
      /no check is called wire\.nope/,
    ],
    ['an entry without a reason', { ...expectations, knownFailures: { [a.id]: {} } }, /"reason"/],
    ['a missing description', { implementation: 'x', knownFailures: {} }, /"description"/],
    [
      'a non-string reproduction',
      { ...expectations, knownFailures: { [a.id]: { reason: 'r', reproduction: 1 } } },
      /"reproduction"/,
    ],
    ['not an object', [], /"implementation"/],
  ])('are refused for %s', (_, value, message) => {
    expect(() => validateExpectations(value, CATALOGUE, 'f.json')).toThrow(message);
  });

  it('are refused with EINVAL when unreadable or not JSON', () => {
    for (const path of [join(dir, 'missing.json'), file('bad.json', '{ nope')]) {
      let error: unknown;
      try {
        loadExpectations(path, CATALOGUE);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ExpectationsError);
      expect((error as ExpectationsError).code).toBe('EINVAL');
      expect((error as Error).message).toContain(path);
    }
  });
});
