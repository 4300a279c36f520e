import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { compileC } from './c-program.ts';
import type { XenstoreDaemon } from './daemons.ts';
import { runMeasured } from './measured-process.ts';
import type { Sample } from './types.ts';

const run = promisify(execFile);
const repository = fileURLToPath(new URL('../../', import.meta.url));

/** The workloads of `bench/c/xs-loop.c`; its header comment defines each op exactly. */
export type XsWorkload =
  | 'read'
  | 'write'
  | 'directory'
  | 'txn-empty'
  | 'txn-rmw'
  | 'txn-conflict'
  | 'write-read'
  | 'list'
  | 'fill';

/**
 * Round trips one op of each workload takes (see `bench/c/xs-loop.c`); `list` takes as many as
 * its listing needs parts.
 */
export const ROUND_TRIPS_PER_OP: Readonly<Partial<Record<XsWorkload, number>>> = {
  read: 1,
  write: 1,
  directory: 1,
  'txn-empty': 2,
  'txn-rmw': 4,
  'txn-conflict': 5,
  'write-read': 1,
  fill: 1,
};

/** One invocation of the C loop. */
export interface XsLoopRun {
  readonly workload: XsWorkload;
  readonly ops: number;
  /** Value bytes; for `directory`, the number of children. */
  readonly size: number;
  /** Node under which the loop works, removed when it is done; for `list`, the node listed. */
  readonly base: string;
}

let xenRoot: Promise<string> | undefined;

/**
 * The unpacked Debian Xen packages (`harness/fetch-packages.sh` fetches them on first use and
 * prints the root), memoized for the whole run.
 */
export function locateXenRoot(): Promise<string> {
  xenRoot ??= run(join(repository, 'harness/fetch-packages.sh')).then(({ stdout }) => {
    const root = stdout.trim().split('\n').at(-1);
    if (!root) throw new Error('harness/fetch-packages.sh printed no root');
    return root;
  });
  return xenRoot;
}

/** Builds `bench/c/xs-loop.c` against the unpacked libxenstore; returns the executable. */
export async function buildXsLoop(): Promise<string> {
  const root = await locateXenRoot();
  return compileC({
    source: join(repository, 'bench/c/xs-loop.c'),
    name: 'xs-loop',
    includeDirs: [join(root, 'usr/include')],
    libDirs: [join(root, 'usr/lib/x86_64-linux-gnu')],
    libs: ['xenstore'],
  });
}

/**
 * Runs the C libxenstore loop once against `daemon` (libxenstore finds it through
 * `XENSTORED_PATH`): the rate of its loop, process start-up excluded, and the CPU time per op of
 * the loop and of the daemon.
 */
export function runXsLoop(
  binary: string,
  daemon: XenstoreDaemon,
  options: XsLoopRun,
): Promise<Sample> {
  return runMeasured({
    command: binary,
    args: [options.workload, String(options.ops), String(options.size), options.base],
    env: { ...process.env, XENSTORED_PATH: daemon.socketPath },
    observe: { daemon: daemon.pid },
  });
}
