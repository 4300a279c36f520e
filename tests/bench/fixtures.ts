import type { MeasuredPair, PairOutcome } from '../../bench/lib/outcome.ts';

/** A measured outcome with the given ratio summary, for table and chart tests. */
export function measured(
  id: string,
  ratio: { median: number; min: number; max: number },
  goal?: { ratio: number; direction: 'at-least' | 'at-most' },
): MeasuredPair {
  return {
    id,
    title: `Title of ${id}`,
    unit: 'ops/s',
    status: 'measured',
    baseline: { label: 'C libxenstore', rates: [1000], medianRate: 1000, extra: {} },
    candidate: {
      label: 'xenwire',
      rates: [1000 * ratio.median],
      medianRate: 1000 * ratio.median,
      extra: { bytesPerNode: 120 },
    },
    ratio: { ...ratio, samples: [ratio.median] },
    ...(goal ? { goal, goalMet: ratio.median >= goal.ratio } : {}),
  };
}

/** An outcome that never ran. */
export function skipped(id: string, reason: string): PairOutcome {
  return { id, title: `Title of ${id}`, unit: 'ops/s', status: 'skipped', reason };
}
