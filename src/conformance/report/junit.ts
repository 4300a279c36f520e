import { AREAS } from '../check.ts';
import type { JudgedResult, JudgedRun } from '../expectations.ts';

function xmlText(text: string): string {
  return (
    text
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      // XML 1.0 cannot carry most control characters, even escaped.
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '?')
  );
}

function testcase(result: JudgedResult): string {
  const { check } = result;
  const open = `    <testcase classname="${check.area}" name="${xmlText(check.id)}" time="${(result.durationMs / 1000).toFixed(3)}"`;
  const failure = (message: string, body: string) =>
    `${open}>\n      <failure message="${xmlText(message)}">${xmlText(body)}</failure>\n    </testcase>`;
  const context = `${check.rule}\nlevel: ${check.level}\nsources: ${check.sources.join('; ')}`;
  switch (result.verdict) {
    case 'pass':
      return `${open}/>`;
    case 'skip':
      return `${open}>\n      <skipped message="${xmlText(result.message ?? '')}"/>\n    </testcase>`;
    case 'known':
      return `${open}>\n      <skipped message="${xmlText(`known difference: ${result.known?.reason}`)}"/>\n    </testcase>`;
    case 'stale':
      return failure('listed as a known failure, but passes', context);
    case 'fail':
      return failure(result.message ?? 'failed', context);
  }
}

/**
 * JUnit XML: one test suite per area, one test case per check. Known differences are reported
 * as skipped (with the reason), so CI dashboards show only unexpected failures as failures.
 */
export function formatJunit(run: JudgedRun, target: string): string {
  const suites = AREAS.map((area) => {
    const results = run.results.filter((result) => result.check.area === area);
    if (results.length === 0) return '';
    const failures = results.filter((r) => r.verdict === 'fail' || r.verdict === 'stale').length;
    const skipped = results.filter((r) => r.verdict === 'skip' || r.verdict === 'known').length;
    const time = results.reduce((sum, r) => sum + r.durationMs, 0) / 1000;
    return [
      `  <testsuite name="${area}" tests="${results.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${time.toFixed(3)}">`,
      ...results.map(testcase),
      '  </testsuite>',
    ].join('\n');
  }).filter(Boolean);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xmlText(`xenstore conformance: ${target}`)}" tests="${run.summary.total}" failures="${run.summary.fail + run.summary.stale}">`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}
