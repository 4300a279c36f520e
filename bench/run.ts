/**
 * `npm run bench`: runs every benchmark pair of `bench/*.bench.ts`, each side by side with its
 * baseline, and reports ratios measured in the same run (machines here are noisy, so only
 * ratios mean anything).
 *
 *   npm run bench                          # everything, 5 A/B pairs each
 *   npm run bench -- xenstore.seq ring     # only pairs whose id starts with one of these
 *   npm run bench -- --quick               # smoke run: small workloads, numbers meaningless
 *   npm run bench -- --pairs 9             # more A/B pairs for a tighter median
 *   npm run bench -- --cpu 0 xenstore.seq  # everything on CPU 0: no cross-CPU wake-ups
 *
 * For each pair: setup, `unavailable()` (a SKIPPED row when it gives a reason), one untimed
 * warm-up per side, then baseline and candidate alternately; teardown always. Prints the table
 * on stdout (progress on stderr) and writes `bench/results/<time>.json` and `.svg` (a chart of
 * the ratios), also copied to `latest.json` and `latest.svg`. Exits 1 when a pair failed (threw),
 * not when a goal is missed.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, selected, USAGE } from './lib/args.ts';
import { discoverBenchFiles } from './lib/discover.ts';
import { measurePair } from './lib/measure.ts';
import type { PairOutcome } from './lib/outcome.ts';
import { renderChart } from './lib/svg.ts';
import { renderTable } from './lib/table.ts';

const benchDirectory = dirname(fileURLToPath(import.meta.url));
const resultsDirectory = join(benchDirectory, 'results');

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
  // Node cannot set its own affinity: run again under taskset, which every child inherits.
  if (args.cpu !== undefined && process.env.XENWIRE_BENCH_CPU !== String(args.cpu)) {
    const script = fileURLToPath(import.meta.url);
    const pinned = spawnSync(
      'taskset',
      ['-c', String(args.cpu), process.execPath, ...process.execArgv, script, ...argv],
      { stdio: 'inherit', env: { ...process.env, XENWIRE_BENCH_CPU: String(args.cpu) } },
    );
    if (pinned.error) {
      process.stderr.write(`--cpu ${args.cpu}: cannot run taskset: ${pinned.error.message}\n`);
      return 2;
    }
    return pinned.status ?? 1;
  }
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const startedAt = new Date();
  // The 1-minute load average tells how busy the machine was, i.e. how far to trust the run.
  const loadAtStart = loadavg()[0];
  const outcomes: PairOutcome[] = [];
  for (const file of await discoverBenchFiles(benchDirectory)) {
    if ('error' in file) {
      const id = basename(file.file, '.bench.ts');
      if (!selected(id, args.filters) && !args.filters.some((f) => f.startsWith(`${id}.`)))
        continue;
      log(`FAILED to load ${file.file}: ${file.error}`);
      outcomes.push({ id, title: file.file, unit: '-', status: 'failed', reason: file.error });
      continue;
    }
    for (const pair of file.pairs) {
      if (!selected(pair.id, args.filters)) continue;
      log(`${pair.id}: ${pair.title}`);
      const pairStart = performance.now();
      const outcome = await measurePair(pair, { quick: args.quick, pairs: args.pairs, log });
      if (outcome.status !== 'measured')
        log(`  ${outcome.status.toUpperCase()}: ${outcome.reason}`);
      log(`  (${((performance.now() - pairStart) / 1000).toFixed(1)} s with setup and warm-up)`);
      outcomes.push(outcome);
    }
  }
  if (outcomes.length === 0) {
    log(`no benchmark pair matches ${args.filters.join(' ')}`);
    return 2;
  }
  process.stdout.write(renderTable(outcomes));

  const finishedAt = new Date();
  const loadAtEnd = loadavg()[0];
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`;
  const stamp = startedAt
    .toISOString()
    .replaceAll(':', '-')
    .replace(/\.\d+Z$/, 'Z');
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    machine,
    loadAverage: { start: loadAtStart, end: loadAtEnd },
    quick: args.quick,
    pairs: args.pairs,
    cpu: args.cpu ?? null,
    filters: args.filters,
    results: outcomes,
  };
  const chart = renderChart(outcomes, {
    subtitle: `${startedAt.toISOString()} · ${machine} · median of ${args.pairs} A/B pairs${args.cpu === undefined ? '' : ` · on CPU ${args.cpu}`} · load ${loadAtStart?.toFixed(1)}→${loadAtEnd?.toFixed(1)}${args.quick ? ' · QUICK (smoke run)' : ''}`,
  });
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
  // Unmet goals are findings, not errors; a pair that crashed is a bug worth a red exit.
  return outcomes.some((o) => o.status === 'failed') ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
