import { describe, expect, it } from 'vitest';
import {
  choosePairs,
  DEFAULT_PAIRS,
  parseArgs,
  QUICK_PAIRS,
  selected,
} from '../../bench/lib/args.ts';
import { GOALS } from '../../bench/lib/goals.ts';
import type { BenchPair } from '../../bench/lib/types.ts';

describe('parseArgs', () => {
  it('defaults to a full run of everything, unpinned', () => {
    expect(parseArgs([])).toMatchObject({
      quick: false,
      pairs: DEFAULT_PAIRS,
      filters: [],
      help: false,
    });
    expect(parseArgs([]).conditions.map((c) => c.id)).toEqual(['unpinned']);
    expect(DEFAULT_PAIRS).toBeGreaterThanOrEqual(5);
  });

  it('reads --quick, --pairs in both spellings and filters', () => {
    expect(parseArgs(['--quick', '--pairs', '7', 'xenstore.seq'])).toMatchObject({
      quick: true,
      pairs: 7,
      filters: ['xenstore.seq'],
    });
    expect(parseArgs(['--pairs=9']).pairs).toBe(9);
  });

  it('runs fewer pairs in a quick run, unless told how many', () => {
    expect(parseArgs(['--quick']).pairs).toBe(QUICK_PAIRS);
    expect(QUICK_PAIRS).toBeLessThan(DEFAULT_PAIRS);
    expect(parseArgs(['--quick', '--pairs', '3']).pairs).toBe(3);
  });

  it('reads --cpu in both spellings as the one pinned condition', () => {
    expect(parseArgs(['--cpu', '0']).conditions).toEqual([
      { id: 'cpu0', description: 'every process on CPU 0', cpu: 0 },
    ]);
    expect(parseArgs(['--cpu=1', 'ring']).conditions.map((c) => c.cpu)).toEqual([1]);
    expect(() => parseArgs(['--cpu'])).toThrow(/CPU number/);
    expect(() => parseArgs(['--cpu', '-1'])).toThrow(/CPU number/);
    expect(() => parseArgs(['--cpu='])).toThrow(/CPU number/);
  });

  it('reads --conditions, all meaning the three in order', () => {
    expect(parseArgs(['--conditions', 'all']).conditions.map((c) => c.id)).toEqual([
      'unpinned',
      'unpinned+hog',
      'cpu0',
    ]);
    expect(parseArgs(['--conditions=cpu1,hog']).conditions.map((c) => c.id)).toEqual([
      'cpu1',
      'unpinned+hog',
    ]);
    expect(() => parseArgs(['--conditions'])).toThrow(/needs a list/);
    expect(() => parseArgs(['--conditions', 'busy'])).toThrow(/unknown condition "busy"/);
    expect(() => parseArgs(['--conditions', 'hog,unpinned+hog'])).toThrow(/given twice/);
    expect(() => parseArgs(['--conditions', 'all', '--cpu', '0'])).toThrow(/already given/);
  });

  it('rejects unknown options and bad pair counts', () => {
    expect(() => parseArgs(['--fast'])).toThrow(/unknown option/);
    expect(() => parseArgs(['--pairs', '0'])).toThrow(/positive integer/);
    expect(() => parseArgs(['--pairs'])).toThrow(/positive integer/);
  });
});

describe('choosePairs', () => {
  const pair = (id: string, floor?: BenchPair['floor']): BenchPair => ({
    id,
    title: id,
    unit: 'ops/s',
    baseline: { label: 'A', run: async () => ({ rate: 1 }) },
    candidate: { label: 'B', run: async () => ({ rate: 1 }) },
    ...(floor ? { floor } : {}),
  });
  const pairs = [
    pair('cli.read'),
    pair('floor'),
    pair('xenstore.seq.read', { medium: 'socket', roundTripsPerOp: 1 }),
  ];
  const ids = (filters: string[]) => choosePairs(pairs, filters).map((p) => p.id);

  it('adds the floor, in its place, when a chosen pair is measured against it', () => {
    expect(ids(['xenstore.seq'])).toEqual(['floor', 'xenstore.seq.read']);
    expect(ids(['cli'])).toEqual(['cli.read']);
    expect(ids([])).toEqual(['cli.read', 'floor', 'xenstore.seq.read']);
  });
});

describe('selected', () => {
  it('matches id prefixes, or everything without filters', () => {
    expect(selected('xenstore.seq.read', [])).toBe(true);
    expect(selected('xenstore.seq.read', ['ring', 'xenstore.seq'])).toBe(true);
    expect(selected('xenstore.tx.empty', ['xenstore.seq'])).toBe(false);
  });

  it('matches a whole id only when the filter ends in $', () => {
    expect(selected('xenstore.seq.read', ['xenstore.seq.read$'])).toBe(true);
    expect(selected('xenstore.seq.read-2000', ['xenstore.seq.read$'])).toBe(false);
    expect(selected('xenstore.seq.read-2000', ['xenstore.seq.read'])).toBe(true);
  });
});

describe('--goals', () => {
  it('selects exactly the pairs every goal is judged on', () => {
    const filters = parseArgs(['--goals']).filters;
    for (const goal of GOALS) {
      for (const id of goal.pairs) expect(selected(id, filters)).toBe(true);
      if (goal.bound) expect(selected(goal.bound.pair, filters)).toBe(true);
    }
    expect(selected('xenstore.seq.read-2000', filters)).toBe(false);
    expect(selected('xenstore.pipeline.64', filters)).toBe(false);
  });

  it('adds to the pairs named beside it', () => {
    const filters = parseArgs(['--goals', 'xenstore.pipeline']).filters;
    expect(selected('xenstore.pipeline.64', filters)).toBe(true);
    expect(selected('xenstore.seq.read', filters)).toBe(true);
  });
});
