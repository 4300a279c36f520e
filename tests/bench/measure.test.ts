import { describe, expect, it } from 'vitest';
import { measurePair, meetsGoal } from '../../bench/lib/measure.ts';
import type { BenchPair, Runner } from '../../bench/lib/types.ts';

function recorder() {
  const events: string[] = [];
  const side =
    (name: string, rate: number): Runner =>
    async () => {
      events.push(name);
      return { rate, extra: { calls: events.length } };
    };
  return { events, side };
}

const options = { quick: true, pairs: 5, log: () => {} };

describe('measurePair', () => {
  it('sets up, warms up each side once, then alternates baseline and candidate', async () => {
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
    expect(events).toEqual([
      'setup',
      'A',
      'B',
      'A',
      'B',
      'A',
      'B',
      'A',
      'B',
      'A',
      'B',
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

  it('leaves out the warm-up when the pair declines it', async () => {
    const { events, side } = recorder();
    await measurePair(
      {
        id: 'x.cold',
        title: 'no warm-up',
        unit: 'ops/s',
        warmup: false,
        baseline: { label: 'C', run: side('A', 1) },
        candidate: { label: 'TS', run: side('B', 1) },
      },
      { ...options, pairs: 2 },
    );
    expect(events).toEqual(['A', 'B', 'A', 'B']);
  });

  it('skips a pair that is unavailable, without running it, and still tears down', async () => {
    const { events, side } = recorder();
    const outcome = await measurePair(
      {
        id: 'x.skip',
        title: 'skip',
        unit: 'ops/s',
        baseline: { label: 'C', run: side('A', 1) },
        candidate: { label: 'TS', run: side('B', 1) },
        unavailable: async () => 'no daemon',
        teardown: async () => void events.push('teardown'),
      },
      options,
    );
    expect(outcome).toMatchObject({ status: 'skipped', reason: 'no daemon' });
    expect(events).toEqual(['teardown']);
  });

  it('turns a throwing side or a nonsense rate into a failed outcome', async () => {
    const { events, side } = recorder();
    const failing = await measurePair(
      {
        id: 'x.fail',
        title: 'fail',
        unit: 'ops/s',
        baseline: { label: 'C', run: side('A', 1) },
        candidate: { label: 'TS', run: () => Promise.reject(new Error('boom')) },
        teardown: async () => void events.push('teardown'),
      },
      options,
    );
    expect(failing).toMatchObject({ status: 'failed', reason: 'boom' });
    expect(events).toEqual(['A', 'teardown']);
    const zero = await measurePair(
      {
        id: 'x.zero',
        title: 'zero',
        unit: 'ops/s',
        baseline: { label: 'C', run: side('A', 0) },
        candidate: { label: 'TS', run: side('B', 1) },
      },
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
