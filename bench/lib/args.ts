import { type Condition, parseConditions, pinned, UNPINNED } from './conditions.ts';
import { FLOOR_PAIR } from './floor.ts';
import { GOALS } from './goals.ts';
import type { BenchPair } from './types.ts';

/** Command-line options of `npm run bench`. */
export interface BenchArgs {
  /** Shrink iteration counts for a smoke run. */
  readonly quick: boolean;
  /** Timed A/B pairs per benchmark pair, in each condition. */
  readonly pairs: number;
  /**
   * Id prefixes to run (e.g. `xenstore.seq`), or whole ids when they end in `$`; empty means
   * all.
   */
  readonly filters: readonly string[];
  /** The conditions to measure in, one after the other (default: unpinned only). */
  readonly conditions: readonly Condition[];
  readonly help: boolean;
}

/** Default number of timed A/B pairs: enough for a median and a spread on a noisy machine. */
export const DEFAULT_PAIRS = 5;

/**
 * Timed pairs of a quick run: one. A smoke run shows that every side builds, starts and reports;
 * the order of the sides changes no code path, and a second pair cost CI half a minute.
 */
export const QUICK_PAIRS = 1;

export const USAGE = `usage: npm run bench -- [--quick] [--pairs N] [--conditions LIST | --cpu N] [--goals] [id-prefix ...]

  --quick            smaller workloads, one pair, no warm-up runs: a smoke run, numbers
                     not meaningful
  --pairs N          timed baseline/candidate pairs per benchmark and condition (default ${DEFAULT_PAIRS})
  --conditions LIST  measure in each of these conditions, one after the other (default unpinned):
                       unpinned  processes wherever the scheduler puts them, no load of the bench's
                       hog       unpinned, with one busy-looping process of the bench's own running
                       cpuN      every process of the bench pinned to CPU N: no cross-CPU wake-ups
                       all       unpinned,hog,cpu0
  --cpu N            the same as --conditions cpuN
  --goals            run the pairs the goals are judged on (and no others unless named)
  id-prefix          run only pairs whose id starts with one of these, e.g. xenstore.seq, or is
                     exactly one that ends in $, e.g. 'xenstore.seq.read$' (the floor pair runs
                     too whenever a selected pair is measured against it)
`;

/** Parses the runner's arguments; throws a message fit for the user on bad input. */
export function parseArgs(argv: readonly string[]): BenchArgs {
  let quick = false;
  let help = false;
  let pairs: number | undefined;
  let conditions: Condition[] | undefined;
  const filters: string[] = [];
  const setConditions = (given: Condition[], option: string): void => {
    if (conditions) throw new Error(`${option}: the conditions are already given`);
    conditions = given;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (name: string): string | undefined =>
      arg === name ? argv[++i] : arg.slice(name.length + 1);
    if (arg === '--quick') quick = true;
    else if (arg === '--goals') filters.push(...goalPairs());
    else if (arg === '--help' || arg === '-h') help = true;
    else if (arg === '--pairs' || arg.startsWith('--pairs=')) {
      const given = value('--pairs');
      pairs = Number(given);
      if (!Number.isInteger(pairs) || pairs < 1) {
        throw new Error(`--pairs needs a positive integer, got ${given ?? 'nothing'}`);
      }
    } else if (arg === '--cpu' || arg.startsWith('--cpu=')) {
      const given = value('--cpu');
      const cpu = Number(given);
      if (given === undefined || given === '' || !Number.isInteger(cpu) || cpu < 0) {
        throw new Error(`--cpu needs a CPU number, got ${given ?? 'nothing'}`);
      }
      setConditions([pinned(cpu)], '--cpu');
    } else if (arg === '--conditions' || arg.startsWith('--conditions=')) {
      const given = value('--conditions');
      if (!given) throw new Error('--conditions needs a list, e.g. all or unpinned,cpu0');
      setConditions(parseConditions(given), '--conditions');
    } else if (arg.startsWith('-')) throw new Error(`unknown option ${arg}`);
    else filters.push(arg);
  }
  return {
    quick,
    pairs: pairs ?? (quick ? QUICK_PAIRS : DEFAULT_PAIRS),
    filters,
    help,
    conditions: conditions ?? [UNPINNED],
  };
}

/** Whether a pair id is selected by the filters (every id when there are none). */
export function selected(id: string, filters: readonly string[]): boolean {
  return (
    filters.length === 0 ||
    filters.some((filter) =>
      filter.endsWith('$') ? id === filter.slice(0, -1) : id.startsWith(filter),
    )
  );
}

/** Filters selecting exactly the pairs the goals rest on, and their bounds. */
function goalPairs(): string[] {
  const ids = GOALS.flatMap((goal) => [...goal.pairs, ...(goal.bound ? [goal.bound.pair] : [])]);
  return [...new Set(ids)].map((id) => `${id}$`);
}

/**
 * The pairs to run, in their order: those the filters select, and the floor pair whenever one
 * of them is measured against the floor.
 */
export function choosePairs(pairs: readonly BenchPair[], filters: readonly string[]): BenchPair[] {
  const chosen = pairs.filter((pair) => selected(pair.id, filters));
  const needsFloor = chosen.some((pair) => pair.floor !== undefined);
  return pairs.filter((pair) => chosen.includes(pair) || (needsFloor && pair.id === FLOOR_PAIR));
}
