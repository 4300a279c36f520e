/**
 * The contract between the benchmark runner (`bench/run.ts`) and the workloads each area
 * contributes in `bench/<area>.bench.ts`.
 *
 * Machines here are noisy, so no absolute figure means anything on its own: every workload is a
 * pair — a baseline (usually the C stack) and a candidate (usually xenwire) — that the runner
 * executes alternately (A B A B …) and reports as a ratio of the two in the same run.
 */

/**
 * The processes whose CPU time a run charges to its operations: `client`, the process running
 * the workload (for a pair with no server, the whole program), and `daemon`, the server it talks
 * to.
 */
export type CpuRole = 'client' | 'daemon';

/** CPU seconds per operation of each process a run measured. */
export type CpuPerOp = Readonly<Partial<Record<CpuRole, number>>>;

/** One timed run of one side of a pair. */
export interface Sample {
  /** Operations (or messages, or bytes — see `unit`) per second. Higher is better. */
  readonly rate: number;
  /**
   * CPU time per operation of each process involved, from the kernel's accounting over the
   * measured loop alone (see `measured-process.ts`). Lower is better.
   */
  readonly cpuPerOp?: CpuPerOp;
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
  /** The process whose CPU per op the pair is about (default `client`): its ratio heads the row. */
  readonly cpuRole?: CpuRole;
  /**
   * What the pair's one-at-a-time round trips are compared with: the `floor` pair's rate over
   * the same medium, in the same condition. Pairs of xenstore round trips say this.
   */
  readonly floor?: FloorReference;
  /**
   * True when what the pair measures does not depend on scheduling (memory per node): it then
   * runs once per invocation, in its first condition, and its verdicts hold in any condition.
   */
  readonly anyCondition?: boolean;
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

/** Which floor a pair is compared with, and how many round trips one of its operations takes. */
export interface FloorReference {
  readonly medium: FloorMedium;
  /** The baseline's medium, when it is not `medium` (e.g. a socket baseline of a ring pair). */
  readonly baselineMedium?: FloorMedium;
  readonly roundTripsPerOp: number;
}

/** What a floor's round trips go over. */
export type FloorMedium = 'socket' | 'ring';

/**
 * What every `bench/<area>.bench.ts` exports as `default` (or, equally, as `pairs`): its pairs,
 * either as a list or as a function that builds the list (for files that must look around
 * first, e.g. for a compiler). The runner imports each file, resolves this and filters pairs by
 * `id` prefix.
 */
export type BenchModuleExport =
  | readonly BenchPair[]
  | (() => readonly BenchPair[] | Promise<readonly BenchPair[]>);
