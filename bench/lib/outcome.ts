import type { RatioSummary } from './stats.ts';
import type { BenchPair, CpuPerOp, CpuRole, FloorReference } from './types.ts';

/** What the runner knows about one side of a measured pair. */
export interface SideResult {
  readonly label: string;
  /** Rates of the timed runs, in pair order (warm-up excluded). */
  readonly rates: readonly number[];
  readonly medianRate: number;
  /** CPU seconds per op of each process, one entry per timed run, in pair order. */
  readonly cpuPerOpRuns: readonly CpuPerOp[];
  /** Median CPU seconds per op of each process the runs measured. */
  readonly cpuPerOp: CpuPerOp;
  /** Median of each extra figure the runs reported. */
  readonly extra: Readonly<Record<string, number>>;
}

/** Fields every outcome carries, whatever happened. */
export interface PairHeader {
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  readonly goal?: BenchPair['goal'];
  readonly floor?: FloorReference;
}

/** A pair's rates as fractions of the floor's rate over the same medium, in the same condition. */
export interface FloorFraction {
  /** The floor's round trips per second over the pair's medium (the candidate's). */
  readonly floorRate: number;
  /**
   * Each side's median round trips per second (rate × round trips per op) over the floor's rate
   * over its medium.
   */
  readonly baseline: number;
  readonly candidate: number;
}

/** A pair that ran: both sides measured alternately. */
export interface MeasuredPair extends PairHeader {
  readonly status: 'measured';
  readonly baseline: SideResult;
  readonly candidate: SideResult;
  /** Candidate rate / baseline rate, pair by pair. */
  readonly ratio: RatioSummary;
  /** The process the pair is about, whose CPU ratio heads its row. */
  readonly cpuRole: CpuRole;
  /** Candidate CPU per op / baseline CPU per op of each process both sides measured, pair by pair. */
  readonly cpuRatio: Readonly<Partial<Record<CpuRole, RatioSummary>>>;
  /** Whether the median ratio meets `goal`; absent when the pair has no goal. */
  readonly goalMet?: boolean;
  /** Set by the runner when the pair has a floor and the floor was measured. */
  readonly ofFloor?: FloorFraction;
}

/** A pair that did not run: `skipped` when `unavailable()` said so, `failed` when it threw. */
export interface UnmeasuredPair extends PairHeader {
  readonly status: 'skipped' | 'failed';
  readonly reason: string;
}

/** The result of one pair, as printed, charted and written to JSON. */
export type PairOutcome = MeasuredPair | UnmeasuredPair;
