import { describe, expect, it } from 'vitest';
import { measurePair, meetsGoal } from '../../bench/lib/measure.ts';
import type { BenchPair, Runner } from '../../bench/lib/types.ts';
import { Unavailable } from '../../bench/lib/unavailable.ts';

function recorder() {
  const events: string[] = [];
  const side =
    (name: string, rate: number): Runner =>
    async () => {
      events.push(name);
      return { rate, extra: { calls: events.length } };
    };
  /** A pair `id` of sides A and B at rate 1 that record their runs, with `more` on top. */
  const pair = (id: string, more: Partial<BenchPair> = {}): BenchPair => ({
    id,
    title: id,
    unit: 'ops/s',
    baseline: { label: 'C', run: side('A', 1) },
    candidate: { label: 'TS', run: side('B', 1) },
    ...more,
  });
  return { events, side, pair };
}

const options = { quick: true, pairs: 5, log: () => {} };

describe('measurePair', () => {
  it('sets up, warms up each side once, then runs pairs in alternating order', async () => {
    const { events, side } = recorder();
    const pair: BenchPair = {
      id: 'x.alternate',
      title: 'alternation',
      unit: 'ops/s',
      baseline: { label: 'C', run: side('A', 100) },
      candidate: { label: 'TS', run: side('B', 150) },
      goal: { ratio: 1, direction: 'at-least' },
      setup: async () => void events.push('setup'),
      teardown: async () => void events.push('teardown'),
    };
    const outcome = await measurePair(pair, options);
    // Warm-up A B, then pairs AB, BA, AB, BA, AB.
    expect(events).toEqual([
      'setup',
      'A',
      'B',
      'A',
      'B',
      'B',
      'A',
      'A',
      'B',
      'B',
      'A',
      'A',
      'B',
      'teardown',
    ]);
    expect(outcome).toMatchObject({
      status: 'measured',
      baseline: { label: 'C', medianRate: 100 },
      candidate: { label: 'TS', medianRate: 150 },
      ratio: { median: 1.5, min: 1.5, max: 1.5 },
      goalMet: true,
    });
    if (outcome.status === 'measured') expect(outcome.baseline.rates).toHaveLength(5);
  });

  it('pairs each candidate run with the baseline run of its own pair', async () => {
    const rates = { A: [100, 200, 50], B: [150, 200, 100] };
    const side =
      (name: 'A' | 'B'): Runner =>
      async () => ({
        rate: rates[name].shift()!,
        cpuPerOp: { client: name === 'A' ? 2e-6 : 3e-6, daemon: 1e-6 },
      });
    const outcome = await measurePair(
      {
        id: 'x.paired',
        title: 'paired',
        unit: 'ops/s',
        warmup: false,
        cpuRole: 'daemon',
        baseline: { label: 'C', run: side('A') },
        candidate: { label: 'TS', run: side('B') },
      },
      { ...options, pairs: 3 },
    );
    if (outcome.status !== 'measured') throw new Error(outcome.status);
    expect(outcome.ratio.samples).toEqual([1.5, 1, 2]);
    expect(outcome.cpuRole).toBe('daemon');
    expect(outcome.cpuRatio['client']?.median).toBeCloseTo(1.5);
    expect(outcome.cpuRatio['daemon']?.median).toBe(1);
    expect(outcome.baseline.cpuPerOp).toEqual({ client: 2e-6, daemon: 1e-6 });
    expect(outcome.candidate.cpuPerOpRuns).toHaveLength(3);
  });

  it.each([
    ['the pair declines it', { warmup: false }, {}],
    ['told to, as a smoke run is', {}, { warmup: false }],
  ] as const)('leaves out the warm-up when %s', async (_, pairOptions, measureOptions) => {
    const { events, pair } = recorder();
    await measurePair(pair('x.cold', pairOptions), { ...options, pairs: 2, ...measureOptions });
    expect(events).toEqual(['A', 'B', 'B', 'A']);
  });

  it('skips a pair that is unavailable, without running it, and still tears down', async () => {
    const { events, pair } = recorder();
    const outcome = await measurePair(
      pair('x.skip', {
        unavailable: async () => 'no daemon',
        teardown: async () => void events.push('teardown'),
      }),
      options,
    );
    expect(outcome).toMatchObject({ status: 'skipped', reason: 'no daemon' });
    expect(events).toEqual(['teardown']);
  });

  it('skips a pair whose setup finds something outside the project missing', async () => {
    const { pair } = recorder();
    const outcome = await measurePair(
      pair('x.nogcc', { setup: () => Promise.reject(new Unavailable('gcc: not found')) }),
      options,
    );
    expect(outcome).toMatchObject({ status: 'skipped', reason: 'gcc: not found' });
  });

  it('turns a throwing side or a nonsense rate into a failed outcome', async () => {
    const { events, side, pair } = recorder();
    const failing = await measurePair(
      pair('x.fail', {
        candidate: { label: 'TS', run: () => Promise.reject(new Error('boom')) },
        teardown: async () => void events.push('teardown'),
      }),
      options,
    );
    expect(failing).toMatchObject({ status: 'failed', reason: 'boom' });
    expect(events).toEqual(['A', 'teardown']);
    const zero = await measurePair(
      pair('x.zero', { baseline: { label: 'C', run: side('A', 0) } }),
      options,
    );
    expect(zero).toMatchObject({ status: 'failed', reason: expect.stringMatching(/rate 0/) });
  });
});

describe('meetsGoal', () => {
  it('compares in the goal direction, inclusively', () => {
    expect(meetsGoal(1.5, { ratio: 1.5, direction: 'at-least' })).toBe(true);
    expect(meetsGoal(1.4, { ratio: 1.5, direction: 'at-least' })).toBe(false);
    expect(meetsGoal(1.2, { ratio: 1.2, direction: 'at-most' })).toBe(true);
    expect(meetsGoal(1.3, { ratio: 1.2, direction: 'at-most' })).toBe(false);
  });
});
