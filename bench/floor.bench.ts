/**
 * The floor: the least a one-at-a-time xenstore round trip costs on this machine, in the same
 * condition as the pairs measured against it. Two C processes, a client and a server, exchange
 * xenstore-sized frames (a 16-byte header and a 9-byte payload each way), one at a time,
 * blocking, doing nothing else (`bench/c/floor.c`):
 *
 * - baseline: over a unix stream socketpair, as every socket client talks to xenstored;
 * - candidate: over a shared xenstore ring page, each side sleeping on a futex doorbell.
 *
 * Every xenstore pair that names a floor prints its rate as a fraction of the floor over its
 * medium, and a goal asks the in-memory xenstored for a share of the socket floor on one CPU.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileC } from './lib/c-program.ts';
import { FLOOR_PAIR } from './lib/floor.ts';
import { runMeasured } from './lib/measured-process.ts';
import type { BenchPair, RunOptions, Sample } from './lib/types.ts';
import { prerequisite } from './lib/unavailable.ts';
import { locateXenRoot } from './lib/xs-loop.ts';

const source = fileURLToPath(new URL('./c/floor.c', import.meta.url));

let binary: Promise<string> | undefined;

function buildFloor(): Promise<string> {
  binary ??= prerequisite('the C floor (gcc and the Xen headers)', async () =>
    compileC({
      source,
      name: 'floor',
      includeDirs: [join(await locateXenRoot(), 'usr/include')],
    }),
  );
  return binary;
}

async function pingPong(medium: 'socket' | 'ring', options: RunOptions): Promise<Sample> {
  return runMeasured({
    command: await buildFloor(),
    args: [medium, String(options.quick ? 5_000 : 100_000)],
  });
}

const floor: BenchPair = {
  id: FLOOR_PAIR,
  title: 'C client and server, xenstore-sized frames one at a time: socketpair vs ring page',
  unit: 'round trips/s',
  setup: async () => {
    await buildFloor();
  },
  baseline: { label: 'C over a socketpair', run: (options) => pingPong('socket', options) },
  candidate: { label: 'C over a ring page', run: (options) => pingPong('ring', options) },
};

export default [floor];
