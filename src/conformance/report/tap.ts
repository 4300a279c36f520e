import type { JudgedResult, JudgedRun } from '../expectations.ts';

/** A YAML block scalar-free rendering: every value a JSON string, which YAML reads as such. */
function diagnostics(fields: Record<string, string | readonly string[] | undefined>): string {
  const lines = ['  ---'];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    lines.push(`  ${key}: ${JSON.stringify(value)}`);
  }
  lines.push('  ...');
  return lines.join('\n');
}

function line(result: JudgedResult, n: number): string {
  const { check } = result;
  const details = () =>
    diagnostics({
      message: result.message,
      rule: check.rule,
      level: check.level,
      sources: check.sources,
      known: result.known?.reason,
    });
  switch (result.verdict) {
    case 'pass':
      return `ok ${n} - ${check.id}`;
    case 'skip':
      return `ok ${n} - ${check.id} # SKIP ${result.message}`;
    case 'known':
      return `not ok ${n} - ${check.id} # TODO known difference\n${details()}`;
    case 'stale':
      return `not ok ${n} - ${check.id}\n${diagnostics({
        message: 'listed as a known failure, but passes: remove it from the expectations',
        rule: check.rule,
        known: result.known?.reason,
      })}`;
    case 'fail':
      return `not ok ${n} - ${check.id}\n${details()}`;
  }
}

/**
 * TAP version 14: one test point per check. Known differences are `# TODO` (not counted as
 * failures by TAP consumers), skipped checks `# SKIP`, stale expectations plain failures.
 */
export function formatTap(run: JudgedRun, target: string): string {
  const { summary } = run;
  const out = ['TAP version 14', `# xenstore conformance against ${target}`];
  if (run.expectations) out.push(`# expectations: ${run.expectations.implementation}`);
  out.push(`1..${run.results.length}`);
  run.results.forEach((result, i) => {
    out.push(line(result, i + 1));
  });
  if (run.serverLost) out.push(`# ${run.serverLost}`);
  out.push(
    `# passed ${summary.pass}, known differences ${summary.known}, failed ${summary.fail}, ` +
      `stale expectations ${summary.stale}, skipped ${summary.skip}`,
  );
  return `${out.join('\n')}\n`;
}
