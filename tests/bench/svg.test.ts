import { describe, expect, it } from 'vitest';
import { logAxis, renderChart } from '../../bench/lib/svg.ts';
import { measured, skipped } from './fixtures.ts';

describe('logAxis', () => {
  it('spans whole decades around the ratios, the goals and parity', () => {
    const axis = logAxis([
      measured('a', { median: 3, min: 2, max: 4 }, { ratio: 3, direction: 'at-least' }),
    ]);
    expect(axis).toMatchObject({ low: 0, high: 1 });
    expect(axis.ticks).toEqual([1, 2, 5, 10]);
    expect(logAxis([measured('b', { median: 0.5, min: 0.04, max: 0.6 })]).low).toBe(-2);
  });

  it('keeps a decade when every ratio is exactly 1', () => {
    expect(logAxis([measured('c', { median: 1, min: 1, max: 1 })])).toMatchObject({
      low: 0,
      high: 1,
    });
  });
});

describe('renderChart', () => {
  const outcomes = [
    measured(
      'xenstore.seq.read',
      { median: 2, min: 1.5, max: 2.5 },
      { ratio: 1, direction: 'at-least' },
    ),
    measured(
      'xenstore.server',
      { median: 0.5, min: 0.4, max: 0.6 },
      { ratio: 1.5, direction: 'at-least' },
    ),
    skipped('ring.copy', 'needs <gcc> & "headers"'),
  ];
  const svg = renderChart(outcomes, { subtitle: 'now' });

  it('is one SVG document with a row per pair', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    for (const outcome of outcomes) expect(svg).toContain(`>${outcome.id}</text>`);
  });

  it('colours bars by the goal verdict and draws each goal', () => {
    expect(svg).toMatch(/<rect [^>]*fill="#2e7d32"\/>/);
    expect(svg).toMatch(/<rect [^>]*fill="#c62828"\/>/);
    expect(svg).toContain('goal ≥ 1.00×');
    expect(svg).toContain('goal ≥ 1.50×');
  });

  it('puts bars of ratios below parity to the left of the 1× line', () => {
    const bars = [...svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="14"/g)];
    const [above, below] = bars.map((m) => ({ x: Number(m[1]), width: Number(m[2]) }));
    expect(below!.x + below!.width).toBeCloseTo(above!.x, 0);
  });

  it('labels ticks briefly, and only powers of ten on a wide axis', () => {
    expect(svg).toContain('>0.2×</text>');
    const wide = renderChart([measured('w', { median: 50, min: 0.01, max: 90 })], { subtitle: '' });
    expect(wide).toContain('>0.01×</text>');
    expect(wide).toContain('>100×</text>');
    expect(wide).not.toContain('>20×</text>');
  });

  it('escapes text', () => {
    expect(svg).toContain('SKIPPED: needs &lt;gcc&gt; &amp; &quot;headers&quot;');
  });
});
