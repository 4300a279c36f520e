import { describe, expect, it } from 'vitest';
import type { GoalVerdict } from '../../bench/lib/goals.ts';
import type { PairOutcome } from '../../bench/lib/outcome.ts';
import { logAxis, renderChart } from '../../bench/lib/svg.ts';
import { measured, skipped } from './fixtures.ts';

const atLeast = (ratio: number) => ({ goal: { ratio, direction: 'at-least' as const } });

describe('logAxis', () => {
  it('spans whole decades around the ratios, the goals and parity', () => {
    const axis = logAxis([measured('a', { median: 3, min: 2, max: 4 }, atLeast(3))]);
    expect(axis).toMatchObject({ low: 0, high: 1 });
    expect(axis.ticks).toEqual([1, 2, 5, 10]);
    expect(logAxis([measured('b', { median: 0.5, min: 0.04, max: 0.6 })]).low).toBe(-2);
  });

  it('takes in the CPU ratio of the pair’s own process', () => {
    const cpu = measured('c', { median: 1, min: 1, max: 1 }, { cpu: { client: [1e-6, 30e-6] } });
    expect(logAxis([cpu]).high).toBe(2);
  });

  it('keeps a decade when every ratio is exactly 1', () => {
    expect(logAxis([measured('c', { median: 1, min: 1, max: 1 })])).toMatchObject({
      low: 0,
      high: 1,
    });
  });
});

describe('renderChart', () => {
  const outcomes: PairOutcome[] = [
    measured(
      'xenstore.seq.read',
      { median: 2, min: 1.5, max: 2.5 },
      { ...atLeast(1), cpu: { client: [10e-6, 12e-6], daemon: [5e-6, 5e-6] } },
    ),
    measured('xenstore.server', { median: 0.5, min: 0.4, max: 0.6 }, atLeast(1.5)),
    skipped('ring.copy', 'needs <gcc> & "headers"'),
  ];
  const verdicts: GoalVerdict[] = [
    {
      goal: 'client.read',
      statement: 'client READ',
      condition: 'cpu0',
      verdict: 'FAIL',
      figures: 'rate 0.50×',
    },
  ];
  const svg = renderChart(
    [
      { heading: 'unpinned: first', outcomes, verdicts: [] },
      { heading: 'cpu0: second', outcomes: outcomes.slice(0, 1), verdicts },
    ],
    { subtitle: 'now' },
  );

  it('is one SVG document with a section per condition and a row per pair', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('>unpinned: first</text>');
    expect(svg).toContain('>cpu0: second</text>');
    expect(svg.match(/>xenstore\.seq\.read<\/text>/g)).toHaveLength(2);
    expect(svg).toContain('>ring.copy</text>');
  });

  it('colours bars by the goal verdict and draws each goal', () => {
    expect(svg).toMatch(/<rect [^>]*fill="#2e7d32"\/>/);
    expect(svg).toMatch(/<rect [^>]*fill="#c62828"\/>/);
    expect(svg).toContain('goal ≥ 1.00×');
    expect(svg).toContain('goal ≥ 1.50×');
  });

  it('writes rates and CPU per op beside the bars, and draws the CPU ratio', () => {
    expect(svg).toContain('2.00× 1.00k→2.00k ops/s, goal ≥ 1.00×');
    expect(svg).toContain('CPU/op client 1.20× 10.0 µs→12.0 µs');
    expect(svg).toMatch(/<rect [^>]*height="6" fill="#6a1b9a"\/>/);
    expect(svg).toContain('>no CPU figures</text>');
  });

  it('puts bars of ratios below parity to the left of the 1× line', () => {
    const bars = [...svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="12"/g)];
    const [above, below] = bars.map((m) => ({ x: Number(m[1]), width: Number(m[2]) }));
    expect(below!.x + below!.width).toBeCloseTo(above!.x, 0);
  });

  it('lists the goal verdicts of each section with their condition', () => {
    expect(svg).toContain('>FAIL [cpu0]</text>');
    expect(svg).toContain('>client READ</text>');
  });

  it('labels ticks briefly, and only powers of ten on a wide axis', () => {
    expect(svg).toContain('>0.2×</text>');
    const wide = renderChart(
      [
        {
          heading: 'w',
          outcomes: [measured('w', { median: 50, min: 0.01, max: 90 })],
          verdicts: [],
        },
      ],
      { subtitle: '' },
    );
    expect(wide).toContain('>0.01×</text>');
    expect(wide).toContain('>100×</text>');
    expect(wide).not.toContain('>20×</text>');
  });

  it('escapes text', () => {
    expect(svg).toContain('SKIPPED: needs &lt;gcc&gt; &amp; &quot;headers&quot;');
  });
});
