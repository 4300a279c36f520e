import type { MeasuredPair, PairOutcome } from '../../bench/lib/outcome.ts';
import type { CpuRole } from '../../bench/lib/types.ts';

interface Options {
  readonly goal?: { ratio: number; direction: 'at-least' | 'at-most' };
  /** CPU seconds per op of the baseline and the candidate, by process. */
  readonly cpu?: Partial<Record<CpuRole, readonly [number, number]>>;
  readonly cpuRole?: CpuRole;
  readonly extra?: readonly [Record<string, number>, Record<string, number>];
}

/** A measured outcome with the given ratio summary, for table, chart and goal tests. */
export function measured(
  id: string,
  ratio: { median: number; min: number; max: number },
  options: Options = {},
): MeasuredPair {
  const { goal, cpu = {}, cpuRole = 'client', extra = [{}, { bytesPerNode: 120 }] } = options;
  const perOp = (side: 0 | 1) =>
    Object.fromEntries(Object.entries(cpu).map(([role, pair]) => [role, pair[side]]));
  const cpuRatio = Object.fromEntries(
    Object.entries(cpu).map(([role, [base, cand]]) => {
      const r = cand / base;
      return [role, { median: r, min: r, max: r, samples: [r] }];
    }),
  );
  return {
    id,
    title: `Title of ${id}`,
    unit: 'ops/s',
    status: 'measured',
    baseline: {
      label: 'C libxenstore',
      rates: [1000],
      medianRate: 1000,
      cpuPerOpRuns: [perOp(0)],
      cpuPerOp: perOp(0),
      extra: extra[0],
    },
    candidate: {
      label: 'xenwire',
      rates: [1000 * ratio.median],
      medianRate: 1000 * ratio.median,
      cpuPerOpRuns: [perOp(1)],
      cpuPerOp: perOp(1),
      extra: extra[1],
    },
    ratio: { ...ratio, samples: [ratio.median] },
    cpuRole,
    cpuRatio,
    ...(goal ? { goal, goalMet: ratio.median >= goal.ratio } : {}),
  };
}

/** An outcome that never ran. */
export function skipped(id: string, reason: string): PairOutcome {
  return { id, title: `Title of ${id}`, unit: 'ops/s', status: 'skipped', reason };
}
