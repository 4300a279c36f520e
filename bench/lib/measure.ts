import { formatRate } from './format.ts';
import type { MeasuredPair, PairHeader, PairOutcome, SideResult } from './outcome.ts';
import { median, medianExtras, pairedRatios } from './stats.ts';
import type { BenchPair, RunOptions, Sample } from './types.ts';

/** How to measure a pair. */
export interface MeasureOptions extends RunOptions {
  /** Number of A/B pairs to time after the warm-up. */
  readonly pairs: number;
  /** Receives progress lines (the runner sends them to stderr, keeping stdout for the table). */
  readonly log: (line: string) => void;
}

/** Whether a median ratio meets a pair's goal. */
export function meetsGoal(ratio: number, goal: NonNullable<BenchPair['goal']>): boolean {
  return goal.direction === 'at-least' ? ratio >= goal.ratio : ratio <= goal.ratio;
}

/**
 * Runs one pair: setup, the availability check, one untimed warm-up of each side unless the pair
 * declines it (so that JIT compilation and cold caches count against neither), then baseline and
 * candidate alternately
 * `pairs` times. Teardown runs whatever happened. Never throws: failures become outcomes.
 */
export async function measurePair(pair: BenchPair, options: MeasureOptions): Promise<PairOutcome> {
  const header: PairHeader = {
    id: pair.id,
    title: pair.title,
    unit: pair.unit,
    ...(pair.goal ? { goal: pair.goal } : {}),
  };
  const runOptions: RunOptions = { quick: options.quick };
  try {
    await pair.setup?.(runOptions);
    const reason = await pair.unavailable?.();
    if (reason !== undefined) return { ...header, status: 'skipped', reason };
    if (pair.warmup !== false) {
      await runSide(pair.baseline.run, runOptions);
      await runSide(pair.candidate.run, runOptions);
    }
    const baseline: Sample[] = [];
    const candidate: Sample[] = [];
    for (let i = 0; i < options.pairs; i++) {
      baseline.push(await runSide(pair.baseline.run, runOptions));
      candidate.push(await runSide(pair.candidate.run, runOptions));
      const last = candidate.length - 1;
      options.log(
        `  ${pair.id} #${i + 1}: ${pair.baseline.label} ${formatRate(baseline[last]!.rate)}, ` +
          `${pair.candidate.label} ${formatRate(candidate[last]!.rate)} ${pair.unit}`,
      );
    }
    return summarize(header, pair, baseline, candidate);
  } catch (error) {
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
    ...(pair.goal ? { goalMet: meetsGoal(ratio.median, pair.goal) } : {}),
  };
}

function side(label: string, samples: readonly Sample[]): SideResult {
  const rates = samples.map((s) => s.rate);
  return {
    label,
    rates,
    medianRate: median(rates),
    extra: medianExtras(samples.map((s) => s.extra)),
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
