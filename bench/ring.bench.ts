/**
 * Ring workloads: two threads streaming through a shared page, xenwire's rings in worker threads
 * (candidate) against the same stream in C with two pthreads on the same layout, built from
 * Xen's headers (baseline, `bench/ring/stream.c`). Both sides wake each other the same way, a
 * futex-style doorbell per direction, and count the doorbells they ring. The workers' doorbells
 * (`AtomicsEvent`) sleep on the kernel futex through the native addon when it is built,
 * as the C threads do; without it on `Atomics.wait` (the candidate's label says which).
 *
 * - `ring.xenstore.bytes`: the guest writes 256-byte messages into the request half of a
 *   xenstore page, the server reads them; bytes/s.
 * - `ring.sring.64`: a one-page `ring.h` ring of 64-byte (32) entries; round trips/s. Both
 *   programs batch alike: the front fills every free slot with a sequence number and publishes
 *   them with one push (`RING_PUSH_REQUESTS_AND_CHECK_NOTIFY`), then takes every response
 *   waiting; the back takes every request waiting, answers each with a copy of it and publishes
 *   the answers with one push. Each end copies entries out of the ring before reading them
 *   (`RING_COPY_*`); xenwire does it with its batch calls (`writeRequests`, `takeRequests`,
 *   `writeResponses`, `takeResponses`), a copy or two per batch, and its front fills a staging
 *   buffer where C writes the slots in place. The event indices should keep doorbells far below
 *   one per message.
 * - `ring.sring.64.inline`: the same ring with both ends taking turns on one thread, so no
 *   wake-ups: what the ring code itself costs, apart from how fast a sleeping thread wakes.
 *
 * Each side is a process of its own (`bench/ring/stream-process.ts` for xenwire); its CPU time
 * per op is that of the whole process, both threads together.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileC } from './lib/c-program.ts';
import { runMeasured } from './lib/measured-process.ts';
import { tsCommand } from './lib/ts-child.ts';
import type { BenchPair, RunOptions, Sample } from './lib/types.ts';
import { prerequisite } from './lib/unavailable.ts';
import { locateXenRoot } from './lib/xs-loop.ts';
import { doorbellKind } from './ring/doorbell.ts';
import type { StreamProcessJob } from './ring/stream-process.ts';

const repository = fileURLToPath(new URL('../', import.meta.url));
const streamProcess = fileURLToPath(new URL('./ring/stream-process.ts', import.meta.url));

let stream: Promise<string> | undefined;

function buildStream(): Promise<string> {
  stream ??= prerequisite('C ring stream (gcc and the Xen headers)', async () =>
    compileC({
      source: join(repository, 'bench/ring/stream.c'),
      name: 'ring-stream',
      includeDirs: [join(await locateXenRoot(), 'usr/include')],
      libs: ['pthread'],
    }),
  );
  return stream;
}

/** How long each timed run streams. */
function durationMs(options: RunOptions): number {
  return options.quick ? 100 : 1500;
}

/** One run of xenwire's stream in its own process. */
function runTs(
  options: RunOptions,
  workload: StreamProcessJob['workload'],
  messageSize: number,
): Promise<Sample> {
  const job: StreamProcessJob = { workload, messageSize, durationMs: durationMs(options) };
  return runMeasured(tsCommand(streamProcess, [JSON.stringify(job)]));
}

function ringPair(
  id: string,
  title: string,
  unit: string,
  workload: 'bytes' | 'requests',
  messageSize: number,
): BenchPair {
  return {
    id,
    title,
    unit,
    goal: { ratio: 0.5, direction: 'at-least' },
    setup: async () => {
      await buildStream();
    },
    baseline: {
      label: 'C pthreads',
      run: (options) => runC(options, workload, messageSize),
    },
    candidate: {
      label: `xenwire workers (${doorbellKind()})`,
      run: (options) => runTs(options, workload, messageSize),
    },
  };
}

async function runC(
  options: RunOptions,
  workload: StreamProcessJob['workload'],
  messageSize: number,
): Promise<Sample> {
  return runMeasured({
    command: await buildStream(),
    args: [workload, '1000000000000', String(durationMs(options)), String(messageSize)],
  });
}

export const pairs: BenchPair[] = [
  ringPair(
    'ring.xenstore.bytes',
    'xenstore page byte stream, 256-byte messages, 2 threads',
    'bytes/s',
    'bytes',
    256,
  ),
  ringPair(
    'ring.sring.64',
    'ring.h one-page ring, 64-byte entries, request + response, 2 threads',
    'msgs/s',
    'requests',
    64,
  ),
  {
    id: 'ring.sring.64.inline',
    title: 'ring.h one-page ring, 64-byte entries, both ends on one thread',
    unit: 'msgs/s',
    setup: async () => {
      await buildStream();
    },
    baseline: { label: 'C', run: (options) => runC(options, 'inline', 64) },
    candidate: { label: 'xenwire', run: (options) => runTs(options, 'inline', 64) },
  },
];

export default pairs;
