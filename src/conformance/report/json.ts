import type { JudgedRun } from '../expectations.ts';

/**
 * The run as one JSON document: the summary, then every check with its metadata, outcome and
 * verdict. Stable field names; what the matrix in the README is rendered from.
 */
export function formatJson(run: JudgedRun, target: string): string {
  return `${JSON.stringify(
    {
      target,
      implementation: run.expectations?.implementation ?? null,
      summary: run.summary,
      serverLost: run.serverLost ?? null,
      checks: run.results.map((result) => ({
        id: result.check.id,
        area: result.check.area,
        rule: result.check.rule,
        level: result.check.level,
        sources: result.check.sources,
        outcome: result.outcome,
        verdict: result.verdict,
        message: result.message ?? null,
        knownReason: result.known?.reason ?? null,
        durationMs: Math.round(result.durationMs),
      })),
    },
    null,
    2,
  )}\n`;
}
