import { formatGoal, formatRate, formatRatio } from './format.ts';
import type { PairOutcome } from './outcome.ts';

const HEADINGS = ['pair', 'unit', 'baseline', 'candidate', 'ratio', 'min–max', 'goal', 'verdict'];

/**
 * The results as a plain-text table: one row per pair with both medians, the median ratio and its
 * spread, and the goal verdict. Pairs that did not run say so in capitals so they are not missed;
 * extra figures follow their row, indented.
 */
export function renderTable(outcomes: readonly PairOutcome[]): string {
  const rows: string[][] = [];
  const notes = new Map<number, string[]>();
  for (const outcome of outcomes) {
    if (outcome.status !== 'measured') {
      rows.push([outcome.id, outcome.unit, `${outcome.status.toUpperCase()}: ${outcome.reason}`]);
      continue;
    }
    const { baseline, candidate, ratio, goal } = outcome;
    rows.push([
      outcome.id,
      outcome.unit,
      `${baseline.label} ${formatRate(baseline.medianRate)}`,
      `${candidate.label} ${formatRate(candidate.medianRate)}`,
      formatRatio(ratio.median),
      `${formatRatio(ratio.min)}–${formatRatio(ratio.max)}`,
      goal ? formatGoal(goal) : '–',
      outcome.goalMet === undefined ? '' : outcome.goalMet ? 'met' : 'NOT MET',
    ]);
    const extras = [
      extraNote(baseline.label, baseline.extra),
      extraNote(candidate.label, candidate.extra),
    ].filter((note): note is string => note !== undefined);
    if (extras.length > 0) notes.set(rows.length - 1, extras);
  }
  const widths = HEADINGS.map((heading, column) =>
    Math.max(
      heading.length,
      // A SKIPPED/FAILED message, a short row's last cell, spans the remaining columns.
      ...rows
        .filter((row) => column < row.length - 1 || row.length === HEADINGS.length)
        .map((row) => row[column]!.length),
    ),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column < cells.length - 1 ? cell.padEnd(widths[column]!) : cell))
      .join('  ')
      .trimEnd();
  const out = [line(HEADINGS), line(widths.map((width) => '-'.repeat(width)))];
  rows.forEach((row, index) => {
    out.push(line(row));
    for (const note of notes.get(index) ?? []) out.push(`    ${note}`);
  });
  return `${out.join('\n')}\n`;
}

function extraNote(label: string, extra: Readonly<Record<string, number>>): string | undefined {
  const entries = Object.entries(extra);
  if (entries.length === 0) return undefined;
  return `${label}: ${entries.map(([name, value]) => `${name}=${formatRate(value)}`).join(', ')}`;
}
