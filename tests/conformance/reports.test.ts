import { describe, expect, it } from 'vitest';
import {
  type Check,
  type CheckResult,
  checks,
  formatJson,
  formatJunit,
  formatTap,
  judge,
} from '../../src/conformance/index.ts';

const [passes, known, stale, fails, skipped] = checks(
  'wire',
  Object.fromEntries(
    ['passes', 'known', 'stale', 'fails', 'skipped'].map((name) => [
      name,
      {
        rule: `Rule of ${name}`,
        level: 'documented' as const,
        sources: ['XSA-1', 'XSA-2'],
        run: async () => {},
      },
    ]),
  ),
) as [Check, Check, Check, Check, Check];

const result = (check: Check, outcome: CheckResult['outcome'], message?: string): CheckResult => ({
  check,
  outcome,
  durationMs: 12,
  ...(message ? { message } : {}),
});

const run = judge(
  {
    results: [
      result(passes, 'pass'),
      result(known, 'fail', 'got <EACCES> & "more"'),
      result(stale, 'pass'),
      result(fails, 'fail', 'got \u0001 control'),
      result(skipped, 'skip', 'needs guests'),
    ],
  },
  {
    implementation: 'test',
    description: 'test',
    knownFailures: { [known.id]: { reason: 'a known bug' }, [stale.id]: { reason: 'fixed' } },
  },
);

describe('the TAP report', () => {
  const lines = formatTap(run, '/tmp/xs').split('\n');

  it('is TAP 14 with a plan and one test point per check', () => {
    expect(lines[0]).toBe('TAP version 14');
    expect(lines).toContain('1..5');
    expect(lines.filter((line) => /^(not )?ok \d+ - /.test(line))).toEqual([
      'ok 1 - wire.passes',
      'not ok 2 - wire.known # TODO known difference',
      'not ok 3 - wire.stale',
      'not ok 4 - wire.fails',
      'ok 5 - wire.skipped # SKIP needs guests',
    ]);
  });

  it('explains failures in YAML blocks of JSON strings', () => {
    const text = lines.join('\n');
    expect(text).toContain('  message: "got <EACCES> & \\"more\\""');
    expect(text).toContain('  known: "a known bug"');
    expect(text).toContain('  sources: ["XSA-1","XSA-2"]');
    expect(text).toContain('listed as a known failure, but passes');
  });

  it('ends with the counts', () => {
    expect(lines.at(-2)).toBe(
      '# passed 1, known differences 1, failed 1, stale expectations 1, skipped 1',
    );
  });
});

describe('the JUnit report', () => {
  const xml = formatJunit(run, '/tmp/xs');

  it('counts failures (new and stale) and skips (known and skipped) per area', () => {
    expect(xml).toContain(
      '<testsuites name="xenstore conformance: /tmp/xs" tests="5" failures="2">',
    );
    expect(xml).toContain('<testsuite name="wire" tests="5" failures="2" errors="0" skipped="2"');
    expect(xml).toContain('<skipped message="known difference: a known bug"/>');
    expect(xml).toContain('<failure message="listed as a known failure, but passes">');
  });

  it('escapes markup and drops characters XML cannot hold', () => {
    expect(xml).toContain('message="got ? control"');
    expect(xml).not.toContain('\u0001');
    expect(xml).toContain('time="0.012"');
  });
});

describe('the JSON report', () => {
  const report = JSON.parse(formatJson(run, '/tmp/xs'));

  it('holds the summary and every check with its metadata and verdict', () => {
    expect(report.target).toBe('/tmp/xs');
    expect(report.implementation).toBe('test');
    expect(report.summary).toEqual({ total: 5, pass: 1, known: 1, fail: 1, stale: 1, skip: 1 });
    expect(report.checks[1]).toEqual({
      id: 'wire.known',
      area: 'wire',
      rule: 'Rule of known',
      level: 'documented',
      sources: ['XSA-1', 'XSA-2'],
      outcome: 'fail',
      verdict: 'known',
      message: 'got <EACCES> & "more"',
      knownReason: 'a known bug',
      durationMs: 12,
    });
  });
});
