/**
 * One run of the TypeScript client in a process of its own (see `client-loop.ts`):
 *
 *   client-loop-process.ts JOB
 *
 * JOB is a {@link ClientLoopJob} as JSON. Connects, warms up and sets up, then runs the loop
 * through the bench's handshake (`measured-child.ts`), then cleans up.
 */
import { ringConnector } from '../../src/xenstore/index.ts';
import type { ClientLoopJob } from './client-loop.ts';
import { prepareClientLoop } from './client-workloads.ts';
import { openDom0Ring } from './dom0-ring.ts';
import { measureWhenTold } from './measured-child.ts';

const job = JSON.parse(process.argv[2] ?? 'null') as ClientLoopJob | null;
if (!job) throw new Error('usage: client-loop-process.ts JOB');

const ring = job.ring ? openDom0Ring(job.ring) : undefined;
try {
  const loop = await prepareClientLoop(job.socketPath, job.run, ring && ringConnector(ring));
  try {
    await measureWhenTold(() => loop.run());
  } finally {
    await loop.close();
  }
} finally {
  ring?.close();
}
