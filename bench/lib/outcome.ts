import type { RatioSummary } from './stats.ts';
import type { BenchPair } from './types.ts';

/** What the runner knows about one side of a measured pair. */
export interface SideResult {
  readonly label: string;
  /** Rates of the timed runs, in run order (warm-up excluded). */
  readonly rates: readonly number[];
  readonly medianRate: number;
  /** Median of each extra figure the runs reported. */
  readonly extra: Readonly<Record<string, number>>;
}

/** Fields every outcome carries, whatever happened. */
export interface PairHeader {
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  readonly goal?: BenchPair['goal'];
}

/** A pair that ran: both sides measured alternately. */
export interface MeasuredPair extends PairHeader {
  readonly status: 'measured';
  readonly baseline: SideResult;
  readonly candidate: SideResult;
  readonly ratio: RatioSummary;
  /** Whether the median ratio meets `goal`; absent when the pair has no goal. */
  readonly goalMet?: boolean;
}

/** A pair that did not run: `skipped` when `unavailable()` said so, `failed` when it threw. */
export interface UnmeasuredPair extends PairHeader {
  readonly status: 'skipped' | 'failed';
  readonly reason: string;
}

/** The result of one pair, as printed, charted and written to JSON. */
export type PairOutcome = MeasuredPair | UnmeasuredPair;
