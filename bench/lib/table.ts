import { formatGoal, formatRate, formatRatio, formatSeconds } from './format.ts';
import type { GoalVerdict } from './goals.ts';
import type { MeasuredPair, PairOutcome } from './outcome.ts';
import type { CpuRole } from './types.ts';

const HEADINGS = ['pair', 'unit', 'baseline', 'candidate', 'ratio', 'min–max', 'goal', 'verdict'];

/**
 * The results as a plain-text table: one row per pair with both medians, the median ratio and its
 * spread, and the goal verdict. Under each measured row, indented: the CPU time per op of each
 * process on both sides with its ratio (the pair's own process first), the fraction of the floor,
 * and extra figures. Pairs that did not run say so in capitals so they are not missed.
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
    const lines = [
      cpuNote(outcome),
      floorNote(outcome),
      extraNote(baseline.label, baseline.extra),
      extraNote(candidate.label, candidate.extra),
    ].filter((note): note is string => note !== undefined);
    if (lines.length > 0) notes.set(rows.length - 1, lines);
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

/**
 * `CPU/op  client 12.1 µs → 18.3 µs = 1.51× (1.40×–1.62×) · daemon …`: baseline → candidate for
 * each process, the pair's own first.
 */
function cpuNote(outcome: MeasuredPair): string | undefined {
  const roles = (Object.keys(outcome.cpuRatio) as CpuRole[]).sort((a, b) =>
    a === outcome.cpuRole ? -1 : b === outcome.cpuRole ? 1 : 0,
  );
  if (roles.length === 0) return undefined;
  const parts = roles.map((role) => {
    const ratio = outcome.cpuRatio[role]!;
    return (
      `${role} ${formatSeconds(outcome.baseline.cpuPerOp[role]!)} → ` +
      `${formatSeconds(outcome.candidate.cpuPerOp[role]!)} = ${formatRatio(ratio.median)} ` +
      `(${formatRatio(ratio.min)}–${formatRatio(ratio.max)})`
    );
  });
  return `CPU/op  ${parts.join(' · ')}`;
}

function floorNote(outcome: MeasuredPair): string | undefined {
  const { ofFloor, floor } = outcome;
  if (!ofFloor || !floor) return undefined;
  const baselineMedium = floor.baselineMedium ?? floor.medium;
  return (
    `floor   ${outcome.baseline.label} ${ofFloor.baseline.toFixed(2)}` +
    (baselineMedium === floor.medium ? '' : ` of the ${baselineMedium} floor`) +
    `, ${outcome.candidate.label} ${ofFloor.candidate.toFixed(2)} of the ${floor.medium} floor ` +
    `(${formatRate(ofFloor.floorRate)} round trips/s)`
  );
}

function extraNote(label: string, extra: Readonly<Record<string, number>>): string | undefined {
  const entries = Object.entries(extra);
  if (entries.length === 0) return undefined;
  return `${label}: ${entries.map(([name, value]) => `${name}=${formatRate(value)}`).join(', ')}`;
}

/**
 * The goal verdicts of one condition, one per line, each naming its condition, with the
 * figures it rests on indented below.
 */
export function renderGoals(verdicts: readonly GoalVerdict[]): string {
  const width = Math.max(0, ...verdicts.map((v) => v.verdict.length + v.condition.length + 3));
  return verdicts
    .map((v) => {
      const head = `${v.verdict} [${v.condition}]`.padEnd(width);
      const indent = ' '.repeat(width);
      const bound = v.bound
        ? `${indent}  bound: ${v.bound}${v.reachable === false ? ' (misses the goal too)' : ''}\n`
        : '';
      return `${head}  ${v.statement}\n${indent}  ${v.figures}\n${bound}`;
    })
    .join('');
}

/** A verdict in the grid; a miss that even the goal's bound misses says so. */
function gridCell(verdict: GoalVerdict | undefined): string {
  if (!verdict) return '–';
  return verdict.reachable === false ? `${verdict.verdict} (out of reach)` : verdict.verdict;
}

/** Every goal's verdict in every condition, as a grid: goals down, conditions across. */
export function renderGoalGrid(
  conditions: readonly string[],
  verdicts: readonly GoalVerdict[],
): string {
  const goals = [...new Set(verdicts.map((v) => v.goal))];
  const rows = [
    ['goal', ...conditions],
    ...goals.map((goal) => [
      goal,
      ...conditions.map((condition) =>
        gridCell(verdicts.find((v) => v.goal === goal && v.condition === condition)),
      ),
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n');
}
