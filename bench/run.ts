/**
 * `npm run bench`: runs every benchmark pair of `bench/*.bench.ts`, each side by side with its
 * baseline, in one or more conditions, and reports ratios measured in the same run (machines
 * here are noisy, so only ratios mean anything). See bench/README.md.
 *
 *   npm run bench                              # everything, unpinned, 5 A/B pairs each
 *   npm run bench -- xenstore.seq ring         # only pairs whose id starts with one of these
 *   npm run bench -- --quick                   # smoke run: small workloads, numbers meaningless
 *   npm run bench -- --pairs 9                 # more A/B pairs for a tighter median
 *   npm run bench -- --conditions all          # unpinned, unpinned with a CPU hog, all on CPU 0
 *   npm run bench -- --cpu 0 xenstore.seq      # everything on CPU 0: no cross-CPU wake-ups
 *
 * Every side runs in a process of its own and the runner only starts and waits
 * (`lib/measured-process.ts`). For each condition, for each pair: setup, `unavailable()` (a
 * SKIPPED row when it gives a reason), one untimed warm-up per side, then baseline and candidate
 * alternately; teardown always. Each condition's table and goal verdicts go to stdout as it ends
 * (progress to stderr); then `bench/results/<time>.json` and `.svg`, also copied to
 * `latest.json` and `latest.svg`. Exits 1 when a pair failed (threw), not when a goal is missed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { choosePairs, DEFAULT_PAIRS, parseArgs, selected, USAGE } from './lib/args.ts';
import { type Condition, type ConditionReport, enterCondition } from './lib/conditions.ts';
import { discoverBenchFiles } from './lib/discover.ts';
import { type FloorRates, floorRates, withFloorFractions } from './lib/floor.ts';
import { evaluateGoals, type GoalVerdict } from './lib/goals.ts';
import { measurePair } from './lib/measure.ts';
import type { PairOutcome } from './lib/outcome.ts';
import { renderChart } from './lib/svg.ts';
import { renderGoalGrid, renderGoals, renderTable } from './lib/table.ts';
import type { BenchPair } from './lib/types.ts';

const benchDirectory = dirname(fileURLToPath(import.meta.url));
const resultsDirectory = join(benchDirectory, 'results');

/** What one condition gave. */
interface ConditionResult extends ConditionReport {
  readonly condition: Condition;
  readonly loadAverage: { readonly start: number; readonly end: number };
  /** The pairs measured in this condition. */
  readonly outcomes: readonly PairOutcome[];
  readonly floor: FloorRates;
  readonly verdicts: readonly GoalVerdict[];
}

async function main(argv: readonly string[]): Promise<number> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const startedAt = new Date();
  const { pairs, loadFailures } = await loadPairs(args.filters, log);
  if (pairs.length === 0 && loadFailures.length === 0) {
    log(`no benchmark pair matches ${args.filters.join(' ')}`);
    return 2;
  }
  const results: ConditionResult[] = [];
  // Pairs that do not depend on scheduling run in the first condition only; later conditions
  // judge their goals from that measurement, saying so.
  const carried: PairOutcome[] = [];
  const measuredIn = new Map<string, string>();
  for (const [index, condition] of args.conditions.entries()) {
    log(`== ${condition.id}: ${condition.description}`);
    // The 1-minute load average tells how busy the machine was, i.e. how far to trust the run.
    const loadAtStart = loadavg()[0]!;
    const outcomes: PairOutcome[] = index === 0 ? [...loadFailures] : [];
    const active = await enterCondition(condition);
    let report: ConditionReport;
    try {
      for (const pair of pairs) {
        if (pair.anyCondition && index > 0) continue;
        log(`${pair.id}: ${pair.title}`);
        const pairStart = performance.now();
        const outcome = await measurePair(pair, {
          quick: args.quick,
          pairs: args.pairs,
          warmup: !args.quick,
          log,
        });
        if (outcome.status !== 'measured')
          log(`  ${outcome.status.toUpperCase()}: ${outcome.reason}`);
        log(`  (${((performance.now() - pairStart) / 1000).toFixed(1)} s with setup and warm-up)`);
        outcomes.push(outcome);
        if (pair.anyCondition) {
          carried.push(outcome);
          measuredIn.set(pair.id, condition.id);
        }
      }
    } finally {
      report = await active.leave();
    }
    const floor = floorRates(outcomes);
    const withFloor = withFloorFractions(outcomes, floor);
    const judged = index === 0 ? withFloor : [...withFloor, ...carried];
    const result: ConditionResult = {
      condition,
      loadAverage: { start: loadAtStart, end: loadavg()[0]! },
      ...report,
      outcomes: withFloor,
      floor,
      verdicts: evaluateGoals(condition, judged, index === 0 ? new Map() : measuredIn),
    };
    results.push(result);
    process.stdout.write(renderCondition(result, args));
  }
  const allVerdicts = results.flatMap((r) => r.verdicts);
  process.stdout.write(
    `\ngoal verdicts by condition\n${renderGoalGrid(
      results.map((r) => r.condition.id),
      allVerdicts,
    )}`,
  );
  await writeResults(startedAt, args, results, log);
  // Unmet goals are findings, not errors; a pair that crashed is a bug worth a red exit.
  return results.some((r) => r.outcomes.some((o) => o.status === 'failed')) ? 1 : 0;
}

/** The chosen pairs of every bench file, and a failed outcome for each file that did not load. */
async function loadPairs(
  filters: readonly string[],
  log: (line: string) => void,
): Promise<{ pairs: BenchPair[]; loadFailures: PairOutcome[] }> {
  const all: BenchPair[] = [];
  const loadFailures: PairOutcome[] = [];
  for (const file of await discoverBenchFiles(benchDirectory)) {
    if ('pairs' in file) {
      all.push(...file.pairs);
      continue;
    }
    const id = basename(file.file, '.bench.ts');
    if (!selected(id, filters) && !filters.some((f) => f.startsWith(`${id}.`))) continue;
    log(`FAILED to load ${file.file}: ${file.error}`);
    loadFailures.push({ id, title: file.file, unit: '-', status: 'failed', reason: file.error });
  }
  return { pairs: choosePairs(all, filters), loadFailures };
}

function describeCondition(result: ConditionResult): string {
  const { condition, loadAverage, hogCpus } = result;
  return (
    `${condition.id}: ${condition.description} · load ${loadAverage.start.toFixed(1)}→` +
    `${loadAverage.end.toFixed(1)}` +
    (hogCpus === undefined ? '' : ` · the hog kept ${hogCpus.toFixed(2)} CPU busy`)
  );
}

function renderCondition(
  result: ConditionResult,
  args: { readonly quick: boolean; readonly pairs: number },
): string {
  const caveats = [
    ...(args.quick
      ? ['QUICK run: the figures mean nothing, the verdicts only show the plumbing']
      : []),
    ...(args.pairs < DEFAULT_PAIRS
      ? [`median of ${args.pairs} pairs: fewer than the ${DEFAULT_PAIRS} a verdict needs`]
      : [`median of ${args.pairs} pairs`]),
  ];
  const table = `\n== ${describeCondition(result)}\n${renderTable(result.outcomes)}`;
  if (result.verdicts.length === 0) return table;
  return `${table}\ngoals in ${result.condition.id} (${caveats.join('; ')}):\n${renderGoals(result.verdicts)}`;
}

async function writeResults(
  startedAt: Date,
  args: ReturnType<typeof parseArgs>,
  results: readonly ConditionResult[],
  log: (line: string) => void,
): Promise<void> {
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`;
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine,
    quick: args.quick,
    pairs: args.pairs,
    filters: args.filters,
    conditions: results.map((r) => ({
      id: r.condition.id,
      description: r.condition.description,
      loadAverage: r.loadAverage,
      ...(r.hogCpus === undefined ? {} : { hogCpus: r.hogCpus }),
      floor: r.floor,
    })),
    // One entry per pair and condition, each saying its condition: ids stay those of earlier runs.
    results: results.flatMap((r) => r.outcomes.map((o) => ({ ...o, condition: r.condition.id }))),
    goals: results.flatMap((r) => r.verdicts),
  };
  const chart = renderChart(
    results.map((r) => ({
      heading: describeCondition(r),
      outcomes: r.outcomes,
      verdicts: r.verdicts,
    })),
    {
      subtitle: `${startedAt.toISOString()} · ${machine} · median of ${args.pairs} A/B pairs${args.quick ? ' · QUICK (smoke run)' : ''}`,
    },
  );
  const stamp = startedAt
    .toISOString()
    .replaceAll(':', '-')
    .replace(/\.\d+Z$/, 'Z');
  await mkdir(resultsDirectory, { recursive: true });
  const written: string[] = [];
  for (const name of [stamp, 'latest']) {
    const json = join(resultsDirectory, `${name}.json`);
    const svg = join(resultsDirectory, `${name}.svg`);
    await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(svg, chart);
    written.push(relative(process.cwd(), json), relative(process.cwd(), svg));
  }
  log(`wrote ${written.join(', ')}`);
}

// Interrupted, exit as usual so that the 'exit' handlers stop the daemons and the hog.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => process.exit(130));
}
process.exitCode = await main(process.argv.slice(2));
