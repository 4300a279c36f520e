/**
 * The contract between the benchmark runner (`bench/run.ts`) and the workloads each area
 * contributes in `bench/<area>.bench.ts`.
 *
 * Machines here are noisy, so no absolute figure means anything on its own: every workload is a
 * pair — a baseline (usually the C stack) and a candidate (usually xenwire) — that the runner
 * executes alternately (A B A B …) and reports as a ratio of the two in the same run.
 */

/** One timed run of one side of a pair. */
export interface Sample {
  /** Operations (or messages, or bytes — see `unit`) per second. Higher is better. */
  readonly rate: number;
  /** Further figures worth printing (e.g. notifications per message, bytes per node). */
  readonly extra?: Readonly<Record<string, number>>;
}

/** One side of a pair: runs the workload once and measures it. */
export type Runner = (options: RunOptions) => Promise<Sample>;

export interface RunOptions {
  /** True for `npm run bench -- --quick`: shrink iteration counts so the whole suite is a smoke run. */
  readonly quick: boolean;
}

/** A workload measured against a baseline. */
export interface BenchPair {
  /** Stable identifier, e.g. `xenstore.seq.read`. */
  readonly id: string;
  /** Human label for tables. */
  readonly title: string;
  /** What `rate` counts, e.g. `ops/s`, `bytes/s`, `msgs/s`, `wakes/s`. */
  readonly unit: string;
  readonly baseline: { readonly label: string; readonly run: Runner };
  readonly candidate: { readonly label: string; readonly run: Runner };
  /** The target for candidate/baseline, if an issue set one (e.g. 1.0 or 0.5). */
  readonly goal?: { readonly ratio: number; readonly direction: 'at-least' | 'at-most' };
  /**
   * Called once before the pairs run (start daemons, compile C programs). Receives the run
   * options, so that `--quick` can shrink what it prepares; a setup ignoring them may omit the
   * parameter.
   */
  readonly setup?: (options: RunOptions) => Promise<void>;
  /**
   * Whether to run each side once, untimed, before the timed pairs (default true). Pairs whose
   * every run starts a fresh process have nothing to warm up and may say false.
   */
  readonly warmup?: boolean;
  /** Called once after, even on failure. */
  readonly teardown?: () => Promise<void>;
  /** Returns a reason when the pair cannot run on this machine (missing compiler, no daemon). */
  readonly unavailable?: () => Promise<string | undefined>;
}

/**
 * What every `bench/<area>.bench.ts` exports as `default` (or, equally, as `pairs`): its pairs,
 * either as a list or as a function that builds the list (for files that must look around
 * first, e.g. for a compiler). The runner imports each file, resolves this and filters pairs by
 * `id` prefix.
 */
export type BenchModuleExport =
  | readonly BenchPair[]
  | (() => readonly BenchPair[] | Promise<readonly BenchPair[]>);
