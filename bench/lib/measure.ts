import { formatRate, formatSeconds } from './format.ts';
import type { MeasuredPair, PairHeader, PairOutcome, SideResult } from './outcome.ts';
import { median, medianOfEach, pairedRatios, pairedRatiosOfEach } from './stats.ts';
import type { BenchPair, RunOptions, Sample } from './types.ts';
import { Unavailable } from './unavailable.ts';

/** How to measure a pair. */
export interface MeasureOptions extends RunOptions {
  /** Number of A/B pairs to time after the warm-up. */
  readonly pairs: number;
  /** Whether to run the pairs' warm-ups (default true; a smoke run leaves them out). */
  readonly warmup?: boolean;
  /** Receives progress lines (the runner sends them to stderr, keeping stdout for the table). */
  readonly log: (line: string) => void;
}

/** Whether a median ratio meets a pair's goal. */
export function meetsGoal(ratio: number, goal: NonNullable<BenchPair['goal']>): boolean {
  return goal.direction === 'at-least' ? ratio >= goal.ratio : ratio <= goal.ratio;
}

/**
 * Runs one pair: setup, the availability check, one untimed warm-up of each side unless the pair
 * declines it (so that cold daemons and caches count against neither), then `pairs` timed pairs
 * of runs, baseline first in the odd ones and candidate first in the even ones, so that neither
 * side always runs right after the other. Teardown runs whatever happened. Never throws:
 * failures become outcomes.
 */
export async function measurePair(pair: BenchPair, options: MeasureOptions): Promise<PairOutcome> {
  const header: PairHeader = {
    id: pair.id,
    title: pair.title,
    unit: pair.unit,
    ...(pair.goal ? { goal: pair.goal } : {}),
    ...(pair.floor ? { floor: pair.floor } : {}),
  };
  const runOptions: RunOptions = { quick: options.quick };
  try {
    await pair.setup?.(runOptions);
    const reason = await pair.unavailable?.();
    if (reason !== undefined) return { ...header, status: 'skipped', reason };
    if (pair.warmup !== false && options.warmup !== false) {
      await runSide(pair.baseline.run, runOptions);
      await runSide(pair.candidate.run, runOptions);
    }
    const baseline: Sample[] = [];
    const candidate: Sample[] = [];
    for (let i = 0; i < options.pairs; i++) {
      if (i % 2 === 0) {
        baseline.push(await runSide(pair.baseline.run, runOptions));
        candidate.push(await runSide(pair.candidate.run, runOptions));
      } else {
        candidate.push(await runSide(pair.candidate.run, runOptions));
        baseline.push(await runSide(pair.baseline.run, runOptions));
      }
      options.log(
        `  ${pair.id} #${i + 1}: ${describeRun(pair.baseline.label, baseline[i]!, pair.unit)}; ` +
          describeRun(pair.candidate.label, candidate[i]!, pair.unit),
      );
    }
    return summarize(header, pair, baseline, candidate);
  } catch (error) {
    if (error instanceof Unavailable)
      return { ...header, status: 'skipped', reason: error.message };
    return { ...header, status: 'failed', reason: describe(error) };
  } finally {
    try {
      await pair.teardown?.();
    } catch (error) {
      options.log(`  ${pair.id}: teardown failed: ${describe(error)}`);
    }
  }
}

async function runSide(run: BenchPair['baseline']['run'], options: RunOptions): Promise<Sample> {
  const sample = await run(options);
  if (!Number.isFinite(sample.rate) || sample.rate <= 0) {
    throw new Error(`a run reported rate ${sample.rate}; rates must be positive and finite`);
  }
  return sample;
}

function summarize(
  header: PairHeader,
  pair: BenchPair,
  baseline: readonly Sample[],
  candidate: readonly Sample[],
): MeasuredPair {
  const ratio = pairedRatios(
    baseline.map((s) => s.rate),
    candidate.map((s) => s.rate),
  );
  return {
    ...header,
    status: 'measured',
    baseline: side(pair.baseline.label, baseline),
    candidate: side(pair.candidate.label, candidate),
    ratio,
    cpuRole: pair.cpuRole ?? 'client',
    cpuRatio: pairedRatiosOfEach(
      baseline.map((s) => s.cpuPerOp),
      candidate.map((s) => s.cpuPerOp),
    ),
    ...(pair.goal ? { goalMet: meetsGoal(ratio.median, pair.goal) } : {}),
  };
}

function side(label: string, samples: readonly Sample[]): SideResult {
  const rates = samples.map((s) => s.rate);
  const cpuPerOpRuns = samples.map((s) => s.cpuPerOp ?? {});
  return {
    label,
    rates,
    medianRate: median(rates),
    cpuPerOpRuns,
    cpuPerOp: medianOfEach(cpuPerOpRuns),
    extra: medianOfEach(samples.map((s) => s.extra)),
  };
}

/** A run for the progress log: its rate, and its CPU time per op by process. */
function describeRun(label: string, sample: Sample, unit: string): string {
  const cpu = Object.entries(sample.cpuPerOp ?? {})
    .map(([role, seconds]) => `${role} ${formatSeconds(seconds)}`)
    .join(', ');
  return `${label} ${formatRate(sample.rate)} ${unit}${cpu ? ` (CPU/op: ${cpu})` : ''}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
