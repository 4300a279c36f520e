import { fileURLToPath } from 'node:url';
import type { RingTarget } from './client-loop.ts';
import type { XenstoreDaemon } from './daemons.ts';
import { runMeasured } from './measured-process.ts';
import { tsCommand } from './ts-child.ts';
import type { Sample } from './types.ts';

const leastProcess = fileURLToPath(new URL('./least-client-process.ts', import.meta.url));

/** What the least Node client's process is told (see `least-client-process.ts`). */
export interface LeastClientJob {
  readonly socketPath: string;
  /** Its node is `${base}/value`, holding `size` bytes, removed afterwards. */
  readonly base: string;
  readonly size: number;
  readonly ops: number;
  /** Round trips run first, untimed, for the JIT. */
  readonly warmupOps: number;
  /** Go over this ring of the daemon rather than its socket. */
  readonly ring?: RingTarget;
}

/**
 * Runs the least a Node process can do per READ round trip, in a process of its own, against
 * `daemon` (over its socket, or the job's ring): the rate of its loop, and the CPU time per op
 * of it and of the daemon.
 */
export function runLeastClient(
  daemon: XenstoreDaemon,
  job: Omit<LeastClientJob, 'socketPath'>,
): Promise<Sample> {
  return runMeasured({
    ...tsCommand(leastProcess, [JSON.stringify({ ...job, socketPath: daemon.socketPath })]),
    observe: { daemon: daemon.pid },
  });
}
