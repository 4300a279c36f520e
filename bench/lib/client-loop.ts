import { fileURLToPath } from 'node:url';
import type { ClientLoopRun } from './client-workloads.ts';
import type { XenstoreDaemon } from './daemons.ts';
import { runMeasured } from './measured-process.ts';
import { tsCommand } from './ts-child.ts';
import type { Sample } from './types.ts';

const loopProcess = fileURLToPath(new URL('./client-loop-process.ts', import.meta.url));

/**
 * Ops a fresh TypeScript process runs untimed before its timed loop, so that it is measured as a
 * program that has run for a while: V8 is still compiling the client's code for some thousands of
 * requests (one-at-a-time reads on CPU 0, CPU per op over the next 20,000: 13.4 µs after 2,000,
 * 12.1 after 5,000, 11.8 after 10,000, 11.7 after 20,000 and 50,000).
 */
export function warmupOps(quick: boolean): number {
  return quick ? 100 : 20_000;
}

/** Dom0's ring page of a daemon under the harness's shim, and its event-channel sockets. */
export interface RingTarget {
  readonly pagePath: string;
  /** The daemon's event-channel socket, and the one the client binds for its own port. */
  readonly daemonEvents: string;
  readonly ownEvents: string;
  /** Dom0's port, the same number at both ends of the channel. */
  readonly port: number;
}

/** What the client process is told: where the daemon is, and the run. */
export interface ClientLoopJob {
  readonly socketPath: string;
  /** Connect over this ring rather than the socket. */
  readonly ring?: RingTarget;
  readonly run: ClientLoopRun;
}

/**
 * Runs the TypeScript client once, in a process of its own as the C loop is, against `daemon`
 * (over its socket, or `ring` when given): the rate of the loop alone, and the CPU time per op
 * of the client process and of the daemon.
 */
export function runClientLoop(
  daemon: XenstoreDaemon,
  run: ClientLoopRun,
  ring?: RingTarget,
): Promise<Sample> {
  const job: ClientLoopJob = { socketPath: daemon.socketPath, run, ...(ring ? { ring } : {}) };
  return runMeasured({
    ...tsCommand(loopProcess, [JSON.stringify(job)]),
    observe: { daemon: daemon.pid },
  });
}
