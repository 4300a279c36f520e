/**
 * The `xenwire` command as a user waits for it: the whole process, start-up and exit included.
 *
 * - `cli.read`: `xenwire read` of one node of a real C xenstored (candidate) vs `node -e 0`
 *   (baseline: what any Node program costs before doing anything). Each run makes a number of
 *   calls one after the other through `bench/c/run-timed.c`, which times each from fork to
 *   reaping and takes each call's CPU time from the kernel's accounting of the finished child.
 *
 * The command is the bundle `npm run build` makes of the current sources (scripts/build-cli.mjs),
 * run through `bin/` as an installed package runs it; it is built into `.cache/bench/cli/` so that
 * the checkout's own `dist/` is left alone. A quick run spares itself the build and runs the
 * checkout's `bin/` as it is (through tsx when there is no `dist/`).
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BENCH_CACHE, compileC } from './lib/c-program.ts';
import type { XenstoreDaemon } from './lib/daemons.ts';
import { runMeasured } from './lib/measured-process.ts';
import type { BenchPair, RunOptions, Sample } from './lib/types.ts';
import { prerequisite } from './lib/unavailable.ts';
import { XenstoreFixture } from './lib/xenstore-fixture.ts';

const run = promisify(execFile);
const repository = fileURLToPath(new URL('../', import.meta.url));
const cliRoot = join(BENCH_CACHE, 'cli');
const NODE = '/bench/cli/value';

/** The timer, and the `xenwire` entry point to time. */
interface Built {
  readonly runTimed: string;
  readonly cli: string;
}

let built: Promise<Built> | undefined;

/**
 * Builds the CLI (once per invocation: the sources do not change under it, and not at all in a
 * quick run) and the timer.
 */
function build(options: RunOptions): Promise<Built> {
  built ??= prerequisite('the CLI build and the C timer', async () => {
    const runTimed = await compileC({
      source: fileURLToPath(new URL('./c/run-timed.c', import.meta.url)),
      name: 'run-timed',
    });
    if (options.quick) return { runTimed, cli: join(repository, 'bin', 'xenwire.cjs') };
    await rm(cliRoot, { recursive: true, force: true });
    await mkdir(cliRoot, { recursive: true });
    await run(process.execPath, [
      join(repository, 'scripts', 'build-cli.mjs'),
      '--outdir',
      join(cliRoot, 'dist', 'cli'),
    ]);
    await cp(join(repository, 'bin'), join(cliRoot, 'bin'), { recursive: true });
    await cp(join(repository, 'package.json'), join(cliRoot, 'package.json'));
    return { runTimed, cli: join(cliRoot, 'bin', 'xenwire.cjs') };
  });
  return built;
}

const calls = (options: RunOptions): number => (options.quick ? 3 : 8);

async function timedCalls(
  options: RunOptions,
  command: (cli: string) => readonly string[],
  daemon?: XenstoreDaemon,
): Promise<Sample> {
  const { runTimed, cli } = await build(options);
  return runMeasured({
    command: runTimed,
    args: [String(calls(options)), ...command(cli)],
    ...(daemon
      ? {
          env: { ...process.env, XENSTORED_PATH: daemon.socketPath },
          observe: { daemon: daemon.pid },
        }
      : {}),
  });
}

function cliRead(): BenchPair {
  const fixture = new XenstoreFixture({ realDaemon: 'xenstored' });
  return {
    id: 'cli.read',
    title: '`xenwire read` of one node, whole process, vs `node -e 0`',
    unit: 'calls/s',
    // At most 1.3 times the wall time of `node -e 0` per call.
    goal: { ratio: 1 / 1.3, direction: 'at-least' },
    // Every call is a fresh process.
    warmup: false,
    async setup(options) {
      await fixture.hooks.setup(options);
      if ((await fixture.hooks.unavailable()) !== undefined) return;
      const { cli } = await build(options);
      await run(process.execPath, [cli, 'write', NODE, 'value'], {
        env: { ...process.env, XENSTORED_PATH: fixture.realDaemon.socketPath },
      });
    },
    teardown: fixture.hooks.teardown,
    unavailable: fixture.hooks.unavailable,
    baseline: {
      label: 'node -e 0',
      run: (options) => timedCalls(options, () => [process.execPath, '-e', '0']),
    },
    candidate: {
      label: 'xenwire read',
      run: (options) =>
        timedCalls(options, (cli) => [process.execPath, cli, 'read', NODE], fixture.realDaemon),
    },
  };
}

export default [cliRead()];
