import { formatGoal, formatRate, formatRatio, formatSeconds } from './format.ts';
import type { GoalVerdict } from './goals.ts';
import type { MeasuredPair, PairOutcome } from './outcome.ts';

/** One condition's part of the chart. */
export interface ChartSection {
  /** Heading, e.g. the condition's id and description. */
  readonly heading: string;
  readonly outcomes: readonly PairOutcome[];
  readonly verdicts: readonly GoalVerdict[];
}

/** What the chart is drawn from, besides the sections. */
export interface ChartOptions {
  /** Heading line, e.g. the date and the machine. */
  readonly subtitle: string;
}

const WIDTH = 1240;
const LABEL_WIDTH = 330;
const PLOT_LEFT = LABEL_WIDTH + 10;
const PLOT_RIGHT = 820;
const FIGURES_LEFT = PLOT_RIGHT + 14;
const TOP = 80;
const ROW = 40;
const HEADING = 30;
/** The row of tick labels under each section's heading. */
const TICKS = 16;
const GOAL_ROW = 30;
const BAR = 12;
const CPU_BAR = 6;
const COLOURS = {
  met: '#2e7d32',
  missed: '#c62828',
  noGoal: '#546e7a',
  grid: '#d0d0d0',
  goal: '#ef6c00',
  cpu: '#6a1b9a',
  notMeasured: '#8d6e00',
};

/**
 * Draws the results as an SVG document, one section per condition. Each pair gets a bar from 1×
 * to its median rate ratio on a logarithmic axis (so 0.5× and 2× look equally far from parity),
 * a whisker from the smallest to the largest per-pair ratio and its goal as a dashed line; green
 * bars meet their goal, red ones do not, grey ones have none. Under it, a thin purple bar is the
 * ratio of CPU time per op of the pair's own process (lower is better for the candidate). The
 * medians themselves are written beside the bars, and each section ends with its goal verdicts.
 */
export function renderChart(sections: readonly ChartSection[], options: ChartOptions): string {
  const axis = logAxis(sections.flatMap((section) => section.outcomes));
  const x = (ratio: number): number =>
    PLOT_LEFT +
    ((Math.log10(ratio) - axis.low) / (axis.high - axis.low)) * (PLOT_RIGHT - PLOT_LEFT);
  const parts: string[] = [];
  let y = TOP;
  for (const section of sections) {
    parts.push(
      `<rect x="0" y="${y}" width="${WIDTH}" height="${HEADING}" fill="#e3e8ee"/>`,
      text(16, y + 20, section.heading, { size: 14, weight: 'bold' }),
    );
    y += HEADING + TICKS;
    const plotTop = y;
    section.outcomes.forEach((outcome, index) => {
      parts.push(...pairRow(outcome, y, index, x));
      y += ROW;
    });
    parts.push(...gridLines(axis, x, plotTop, y));
    y += 6;
    for (const verdict of section.verdicts) {
      parts.push(...goalRow(verdict, y));
      y += GOAL_ROW;
    }
    y += 10;
  }
  const legendY = y + 24;
  const height = legendY + 20;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    text(16, 24, 'Candidate / baseline: rate (higher is better), CPU per op (lower is better)', {
      size: 16,
      weight: 'bold',
    }),
    text(16, 44, options.subtitle, { size: 11, fill: '#555555' }),
    ...parts,
    legendSwatch(16, legendY, COLOURS.met, 'meets goal'),
    legendSwatch(130, legendY, COLOURS.missed, 'misses goal'),
    legendSwatch(250, legendY, COLOURS.noGoal, 'no goal'),
    legendSwatch(340, legendY, COLOURS.cpu, 'CPU/op ratio'),
    `<line x1="470" y1="${legendY - 9}" x2="470" y2="${legendY + 3}" stroke="${COLOURS.goal}" stroke-width="2" stroke-dasharray="4 2"/>`,
    text(478, legendY, 'goal', { size: 11 }),
    line(530, legendY - 3, 560, legendY - 3, '#111111', 1.2),
    text(566, legendY, 'min–max of the per-pair rate ratios; bars end at the medians', {
      size: 11,
    }),
    '</svg>',
  ]
    .join('\n')
    .concat('\n');
}

/** The axis's grid lines over one section's rows, labelled above them. */
function gridLines(axis: LogAxis, x: (ratio: number) => number, top: number, bottom: number) {
  const parts: string[] = [];
  // Past two decades the 2× and 5× labels would collide: keep their grid lines, label powers of 10.
  const labelAll = axis.high - axis.low <= 2;
  for (const tick of axis.ticks) {
    const tx = x(tick);
    const strong = tick === 1;
    parts.push(line(tx, top, tx, bottom, strong ? '#222222' : COLOURS.grid, strong ? 1.5 : 1));
    if (!labelAll && !Number.isInteger(Math.log10(tick))) continue;
    parts.push(text(tx, top - 4, `${tick}×`, { size: 10, anchor: 'middle', fill: '#333333' }));
  }
  return parts;
}

function pairRow(
  outcome: PairOutcome,
  top: number,
  index: number,
  x: (ratio: number) => number,
): string[] {
  const mid = top + ROW / 2;
  const parts: string[] = [];
  if (index % 2 === 1) {
    parts.push(`<rect x="0" y="${top}" width="${WIDTH}" height="${ROW}" fill="#f3f5f7"/>`);
  }
  parts.push(
    text(16, mid - 2, outcome.id, {
      size: 12,
      weight: 'bold',
      family: 'DejaVu Sans Mono, monospace',
    }),
    text(16, mid + 12, truncate(outcome.title, 58), { size: 10, fill: '#555555' }),
  );
  if (outcome.status !== 'measured') {
    parts.push(
      text(
        PLOT_LEFT + 4,
        mid + 4,
        truncate(`${outcome.status.toUpperCase()}: ${outcome.reason}`, 110),
        {
          size: 11,
          weight: 'bold',
          fill: outcome.status === 'failed' ? COLOURS.missed : COLOURS.notMeasured,
        },
      ),
    );
    return parts;
  }
  const { ratio, goal, goalMet } = outcome;
  const colour = goalMet === undefined ? COLOURS.noGoal : goalMet ? COLOURS.met : COLOURS.missed;
  const rateY = mid - 4;
  parts.push(
    bar(x, ratio.median, rateY, BAR, colour),
    line(x(ratio.min), rateY, x(ratio.max), rateY, '#111111', 1.2),
    line(x(ratio.min), rateY - 5, x(ratio.min), rateY + 5, '#111111', 1.2),
    line(x(ratio.max), rateY - 5, x(ratio.max), rateY + 5, '#111111', 1.2),
  );
  if (goal) {
    const gx = x(goal.ratio);
    parts.push(
      `<line x1="${n(gx)}" y1="${top + 3}" x2="${n(gx)}" y2="${top + ROW - 3}" stroke="${COLOURS.goal}" stroke-width="2" stroke-dasharray="4 2"/>`,
    );
  }
  const cpu = outcome.cpuRatio[outcome.cpuRole];
  if (cpu) parts.push(bar(x, cpu.median, mid + 10, CPU_BAR, COLOURS.cpu));
  parts.push(
    text(FIGURES_LEFT, mid - 1, rateFigures(outcome), { size: 11, weight: 'bold', fill: colour }),
    text(FIGURES_LEFT, mid + 13, cpuFigures(outcome), { size: 10, fill: COLOURS.cpu }),
  );
  return parts;
}

/** `0.76× 52.1k→39.6k ops/s, goal ≥ 1.00×, 0.47 of floor` */
function rateFigures(outcome: MeasuredPair): string {
  const { baseline, candidate, ratio, goal, ofFloor } = outcome;
  return [
    `${formatRatio(ratio.median)} ${formatRate(baseline.medianRate)}→${formatRate(candidate.medianRate)} ${outcome.unit}`,
    ...(goal ? [`goal ${formatGoal(goal)}`] : []),
    ...(ofFloor ? [`${ofFloor.candidate.toFixed(2)} of floor`] : []),
  ].join(', ');
}

/** `CPU/op client 1.51× 12.1 µs→18.3 µs` */
function cpuFigures(outcome: MeasuredPair): string {
  const role = outcome.cpuRole;
  const cpu = outcome.cpuRatio[role];
  if (!cpu) return 'no CPU figures';
  return `CPU/op ${role} ${formatRatio(cpu.median)} ${formatSeconds(outcome.baseline.cpuPerOp[role]!)}→${formatSeconds(outcome.candidate.cpuPerOp[role]!)}`;
}

function bar(x: (ratio: number) => number, ratio: number, y: number, height: number, fill: string) {
  const from = Math.min(x(1), x(ratio));
  const width = Math.max(1, Math.abs(x(ratio) - x(1)));
  return `<rect x="${n(from)}" y="${n(y - height / 2)}" width="${n(width)}" height="${height}" fill="${fill}"/>`;
}

function goalRow(verdict: GoalVerdict, top: number): string[] {
  const fill =
    verdict.verdict === 'PASS'
      ? COLOURS.met
      : verdict.verdict === 'FAIL'
        ? COLOURS.missed
        : COLOURS.notMeasured;
  return [
    text(16, top + 13, `${verdict.verdict} [${verdict.condition}]`, {
      size: 11,
      weight: 'bold',
      fill,
    }),
    text(200, top + 13, truncate(verdict.statement, 150), { size: 11 }),
    text(200, top + 26, truncate(verdict.figures, 170), { size: 10, fill: '#555555' }),
  ];
}

interface LogAxis {
  /** log10 of the left and right ends. */
  readonly low: number;
  readonly high: number;
  /** Ratios to label: 1, 2 and 5 times powers of ten inside the range. */
  readonly ticks: readonly number[];
}

/** A log axis spanning whole decades around every rate and CPU ratio, goal and 1×. */
export function logAxis(outcomes: readonly PairOutcome[]): LogAxis {
  const values = [1];
  for (const outcome of outcomes) {
    if (outcome.goal) values.push(outcome.goal.ratio);
    if (outcome.status !== 'measured') continue;
    values.push(outcome.ratio.min, outcome.ratio.max);
    const cpu = outcome.cpuRatio[outcome.cpuRole];
    if (cpu) values.push(cpu.median);
  }
  const positive = values.filter((v) => v > 0 && Number.isFinite(v));
  const low = Math.floor(Math.log10(Math.min(...positive)));
  const high = Math.max(low + 1, Math.ceil(Math.log10(Math.max(...positive))));
  const ticks: number[] = [];
  for (let decade = low; decade <= high; decade++) {
    for (const step of [1, 2, 5]) {
      const tick = step * 10 ** decade;
      if (Math.log10(tick) <= high + 1e-9) ticks.push(Number(tick.toPrecision(3)));
    }
  }
  return { low, high, ticks };
}

interface TextStyle {
  readonly size: number;
  readonly weight?: string;
  readonly fill?: string;
  readonly anchor?: 'start' | 'middle' | 'end';
  readonly family?: string;
}

function text(x: number, y: number, content: string, style: TextStyle): string {
  const attributes = [
    `x="${n(x)}"`,
    `y="${n(y)}"`,
    `font-size="${style.size}"`,
    style.weight ? `font-weight="${style.weight}"` : '',
    `fill="${style.fill ?? '#111111'}"`,
    style.anchor ? `text-anchor="${style.anchor}"` : '',
    style.family ? `font-family="${style.family}"` : '',
  ].filter((a) => a !== '');
  return `<text ${attributes.join(' ')}>${escapeXml(content)}</text>`;
}

function line(
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  stroke: string,
  width: number,
): string {
  return `<line x1="${n(x1)}" y1="${n(y1)}" x2="${n(x2)}" y2="${n(y2)}" stroke="${stroke}" stroke-width="${width}"/>`;
}

function legendSwatch(x: number, y: number, colour: string, label: string): string {
  return `<rect x="${x}" y="${y - 10}" width="14" height="12" fill="${colour}"/>${text(x + 20, y, label, { size: 11 })}`;
}

function truncate(value: string, length: number): string {
  return value.length <= length ? value : `${value.slice(0, length - 1)}…`;
}

/** Coordinates with one decimal keep the file small and diffable. */
function n(value: number): string {
  return String(Math.round(value * 10) / 10);
}

function escapeXml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}
