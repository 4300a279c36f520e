import { formatGoal, formatRatio } from './format.ts';
import type { PairOutcome } from './outcome.ts';

/** What the chart is drawn from, besides the outcomes. */
export interface ChartOptions {
  /** Heading line, e.g. the date and the machine. */
  readonly subtitle: string;
}

const WIDTH = 1000;
const LABEL_WIDTH = 330;
const PLOT_LEFT = LABEL_WIDTH + 10;
const PLOT_RIGHT = WIDTH - 150;
const TOP = 70;
const ROW = 36;
const BAR = 14;
const COLOURS = {
  met: '#2e7d32',
  missed: '#c62828',
  noGoal: '#546e7a',
  grid: '#d0d0d0',
  goal: '#ef6c00',
};

/**
 * Draws the ratios as an SVG document: one horizontal bar per pair from 1× to its median ratio
 * on a logarithmic axis (so 0.5× and 2× look equally far from parity), a whisker from the
 * smallest to the largest per-pair ratio, and the pair's goal as a dashed line. Green bars meet
 * their goal, red ones do not, grey ones have none. Pairs that did not run get a text row.
 */
export function renderChart(outcomes: readonly PairOutcome[], options: ChartOptions): string {
  const axis = logAxis(outcomes);
  const x = (ratio: number): number =>
    PLOT_LEFT +
    ((Math.log10(ratio) - axis.low) / (axis.high - axis.low)) * (PLOT_RIGHT - PLOT_LEFT);
  const plotBottom = TOP + outcomes.length * ROW;
  const height = plotBottom + 70;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    text(16, 24, 'Candidate / baseline rate (higher is better for the candidate)', {
      size: 16,
      weight: 'bold',
    }),
    text(16, 44, options.subtitle, { size: 11, fill: '#555555' }),
  ];
  // Past two decades the 2× and 5× labels would collide: keep their grid lines, label powers of 10.
  const labelAll = axis.high - axis.low <= 2;
  for (const tick of axis.ticks) {
    const tx = x(tick);
    const strong = tick === 1;
    parts.push(
      line(tx, TOP - 6, tx, plotBottom, strong ? '#222222' : COLOURS.grid, strong ? 1.5 : 1),
    );
    if (!labelAll && !Number.isInteger(Math.log10(tick))) continue;
    const label = `${tick}×`;
    parts.push(
      text(tx, TOP - 10, label, { size: 10, anchor: 'middle', fill: '#333333' }),
      text(tx, plotBottom + 16, label, { size: 10, anchor: 'middle', fill: '#333333' }),
    );
  }
  outcomes.forEach((outcome, index) => {
    const top = TOP + index * ROW;
    const mid = top + ROW / 2;
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
          truncate(`${outcome.status.toUpperCase()}: ${outcome.reason}`, 90),
          {
            size: 11,
            weight: 'bold',
            fill: outcome.status === 'failed' ? COLOURS.missed : '#8d6e00',
          },
        ),
      );
      return;
    }
    const { ratio, goal, goalMet } = outcome;
    const colour = goalMet === undefined ? COLOURS.noGoal : goalMet ? COLOURS.met : COLOURS.missed;
    const from = Math.min(x(1), x(ratio.median));
    const barWidth = Math.max(1, Math.abs(x(ratio.median) - x(1)));
    parts.push(
      `<rect x="${n(from)}" y="${n(mid - BAR / 2)}" width="${n(barWidth)}" height="${BAR}" fill="${colour}"/>`,
      line(x(ratio.min), mid, x(ratio.max), mid, '#111111', 1.2),
      line(x(ratio.min), mid - 5, x(ratio.min), mid + 5, '#111111', 1.2),
      line(x(ratio.max), mid - 5, x(ratio.max), mid + 5, '#111111', 1.2),
      text(Math.max(x(ratio.max), x(1)) + 6, mid + 4, formatRatio(ratio.median), {
        size: 11,
        weight: 'bold',
        fill: colour,
      }),
    );
    if (goal) {
      const gx = x(goal.ratio);
      parts.push(
        `<line x1="${n(gx)}" y1="${top + 3}" x2="${n(gx)}" y2="${top + ROW - 3}" stroke="${COLOURS.goal}" stroke-width="2" stroke-dasharray="4 2"/>`,
        text(WIDTH - 12, mid + 4, `goal ${formatGoal(goal)}`, {
          size: 10,
          anchor: 'end',
          fill: COLOURS.goal,
        }),
      );
    }
  });
  const legendY = plotBottom + 42;
  parts.push(
    legendSwatch(16, legendY, COLOURS.met, 'meets goal'),
    legendSwatch(130, legendY, COLOURS.missed, 'misses goal'),
    legendSwatch(250, legendY, COLOURS.noGoal, 'no goal'),
    `<line x1="350" y1="${legendY - 9}" x2="350" y2="${legendY + 3}" stroke="${COLOURS.goal}" stroke-width="2" stroke-dasharray="4 2"/>`,
    text(358, legendY, 'goal', { size: 11 }),
    line(410, legendY - 3, 440, legendY - 3, '#111111', 1.2),
    text(446, legendY, 'min–max of the per-pair ratios; bar ends at the median', { size: 11 }),
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}

interface LogAxis {
  /** log10 of the left and right ends. */
  readonly low: number;
  readonly high: number;
  /** Ratios to label: 1, 2 and 5 times powers of ten inside the range. */
  readonly ticks: readonly number[];
}

/** A log axis spanning whole decades around every ratio, goal and 1×. */
export function logAxis(outcomes: readonly PairOutcome[]): LogAxis {
  const values = [1];
  for (const outcome of outcomes) {
    if (outcome.goal) values.push(outcome.goal.ratio);
    if (outcome.status === 'measured') values.push(outcome.ratio.min, outcome.ratio.max);
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
