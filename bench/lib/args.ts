/** Command-line options of `npm run bench`. */
export interface BenchArgs {
  /** Shrink iteration counts for a smoke run. */
  readonly quick: boolean;
  /** Timed A/B pairs per benchmark pair. */
  readonly pairs: number;
  /** Id prefixes to run (e.g. `xenstore.seq`); empty means all. */
  readonly filters: readonly string[];
  /** Run everything (daemons and C baselines included) on this one CPU; unset: anywhere. */
  readonly cpu?: number;
  readonly help: boolean;
}

/** Default number of timed A/B pairs: enough for a median and a spread on a noisy machine. */
export const DEFAULT_PAIRS = 5;

export const USAGE = `usage: npm run bench -- [--quick] [--pairs N] [--cpu N] [id-prefix ...]

  --quick      smaller workloads: a smoke run, numbers not meaningful
  --pairs N    timed baseline/candidate pairs per benchmark (default ${DEFAULT_PAIRS})
  --cpu N      run every process of the bench on CPU N (taskset): one-at-a-time round trips then
               cost no cross-CPU wake-ups, whose price varies with where the scheduler puts the
               two ends (on some VMs it halves their rate); pipelined pairs lose parallelism
  id-prefix    run only pairs whose id starts with one of these, e.g. xenstore.seq
`;

/** Parses the runner's arguments; throws a message fit for the user on bad input. */
export function parseArgs(argv: readonly string[]): BenchArgs {
  let quick = false;
  let help = false;
  let pairs = DEFAULT_PAIRS;
  let cpu: number | undefined;
  const filters: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--help' || arg === '-h') help = true;
    else if (arg === '--pairs' || arg.startsWith('--pairs=')) {
      const value = arg === '--pairs' ? argv[++i] : arg.slice('--pairs='.length);
      pairs = Number(value);
      if (!Number.isInteger(pairs) || pairs < 1) {
        throw new Error(`--pairs needs a positive integer, got ${value ?? 'nothing'}`);
      }
    } else if (arg === '--cpu' || arg.startsWith('--cpu=')) {
      const value = arg === '--cpu' ? argv[++i] : arg.slice('--cpu='.length);
      cpu = Number(value);
      if (value === undefined || value === '' || !Number.isInteger(cpu) || cpu < 0) {
        throw new Error(`--cpu needs a CPU number, got ${value ?? 'nothing'}`);
      }
    } else if (arg.startsWith('-')) throw new Error(`unknown option ${arg}`);
    else filters.push(arg);
  }
  return { quick, pairs, filters, help, ...(cpu === undefined ? {} : { cpu }) };
}

/** Whether a pair id is selected by the filters (every id when there are none). */
export function selected(id: string, filters: readonly string[]): boolean {
  return filters.length === 0 || filters.some((prefix) => id.startsWith(prefix));
}
