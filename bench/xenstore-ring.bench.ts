/**
 * Xenstore round trips over dom0's ring page (`xsd_kva`) of the real C xenstored, under the
 * harness's shim: the page is a file both sides map, the event channel a pair of datagram
 * sockets (harness/README.md).
 *
 * - `xenstore.ring.read`/`.write`: the TypeScript client over the ring transport vs a small C
 *   ring client (`bench/xenstore-ring/ring-loop.c`), the same sequence as `bench/c/xs-loop.c`.
 * - `xenstore.ring.*-vs-socket`: the same TypeScript client over the ring vs over the daemon's
 *   unix socket.
 * - `xenstore.bound.node-ring`: the least a Node process can do per READ over the ring
 *   (`lib/least-client-process.ts`) vs the C ring client: the bound of the ring goals.
 *
 * Each side, a process of its own, binds dom0's event-channel socket only for its own run, so the
 * two ends alternate on one page and one daemon.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isNativeAvailable } from '../src/device/index.ts';
import { compileC } from './lib/c-program.ts';
import { type RingTarget, runClientLoop, warmupOps } from './lib/client-loop.ts';
import type { ClientLoopRun } from './lib/client-workloads.ts';
import type { XenstoreDaemon } from './lib/daemons.ts';
import { LEAST_NODE_RING } from './lib/goals.ts';
import { runLeastClient } from './lib/least-client.ts';
import { runMeasured } from './lib/measured-process.ts';
import type { BenchPair, RunOptions, Sample } from './lib/types.ts';
import { prerequisite, Unavailable } from './lib/unavailable.ts';
import { XenstoreFixture } from './lib/xenstore-fixture.ts';
import { locateXenRoot } from './lib/xs-loop.ts';

const ringLoopSource = fileURLToPath(new URL('./xenstore-ring/ring-loop.c', import.meta.url));

/** Dom0's port (the harness's `xsd_port`), the same number at both ends of the channel. */
const DOM0_PORT = 1;
const TS_RING = 'xenwire client, ring';

/** The harness's shim directory is the daemon's socket directory. */
function dom0Ring(socketPath: string): RingTarget {
  const rundir = dirname(socketPath);
  return {
    pagePath: join(rundir, 'xsd_kva'),
    daemonEvents: join(rundir, 'evtchn.sock'),
    ownEvents: join(rundir, 'dom0.evtchn'),
    port: DOM0_PORT,
  };
}

/** One run of the C ring client against `daemon`. */
function runCRing(binary: string, daemon: XenstoreDaemon, spec: ClientLoopRun): Promise<Sample> {
  const ring = dom0Ring(daemon.socketPath);
  return runMeasured({
    command: binary,
    args: [
      ring.pagePath,
      ring.daemonEvents,
      ring.ownEvents,
      String(ring.port),
      spec.workload,
      String(spec.ops),
      String(spec.size),
      spec.base,
    ],
    observe: { daemon: daemon.pid },
  });
}

async function buildRingLoop(): Promise<string> {
  const root = await locateXenRoot();
  return compileC({
    source: ringLoopSource,
    name: 'xenstore-ring-loop',
    includeDirs: [join(root, 'usr/include')],
  });
}

type Workload = 'read' | 'write';
/**
 * What a pair compares: the TypeScript client over the ring against the C ring client
 * (`c-ring`) or against itself over the daemon's socket (`ts-socket`); or, as the bound of the
 * ring goals, the least a Node process can do over the ring against the C ring client (`least`).
 */
type Comparison = 'c-ring' | 'ts-socket' | 'least';

function ringPair(workload: Workload, comparison: Comparison): BenchPair {
  const fixture = new XenstoreFixture({ realDaemon: 'xenstored' });
  let binary: string | undefined;
  let missing: string | undefined;
  const spec = (options: RunOptions, side: string): ClientLoopRun => ({
    workload,
    ops: options.quick ? 500 : 20_000,
    size: 16,
    base: fixture.nextBase(side),
  });
  // Only the TS side warms up: it runs in a fresh Node process each time.
  const tsSpec = (options: RunOptions, side: string): ClientLoopRun => ({
    ...spec(options, side),
    warmupOps: warmupOps(options.quick),
  });
  const upper = workload.toUpperCase();
  const ring = () => dom0Ring(fixture.realDaemon.socketPath);
  const cRing: BenchPair['baseline'] = {
    label: 'C ring client',
    run: (options) => runCRing(binary!, fixture.realDaemon, spec(options, 'c')),
  };
  const tsRing: BenchPair['candidate'] = {
    label: TS_RING,
    run: (options) => runClientLoop(fixture.realDaemon, tsSpec(options, 'ring'), ring()),
  };
  const comparisons: Record<
    Comparison,
    Pick<BenchPair, 'id' | 'title' | 'baseline' | 'candidate'>
  > = {
    'c-ring': {
      id: `xenstore.ring.${workload}`,
      title: `${upper} over dom0's ring, 16-byte value, one at a time: vs a C ring client`,
      baseline: cRing,
      candidate: tsRing,
    },
    'ts-socket': {
      id: `xenstore.ring.${workload}-vs-socket`,
      title: `${upper}, 16-byte value, one at a time: ring vs unix socket, same client`,
      baseline: {
        label: 'xenwire client, socket',
        run: (options) => runClientLoop(fixture.realDaemon, tsSpec(options, 'socket')),
      },
      candidate: tsRing,
    },
    least: {
      id: LEAST_NODE_RING,
      title: `${upper} over dom0's ring, 16-byte value, one at a time: the least a Node process can do vs a C ring client`,
      baseline: cRing,
      candidate: {
        label: 'least Node round trip, ring',
        run: (options) => {
          const { base, size, ops } = spec(options, 'node');
          return runLeastClient(fixture.realDaemon, {
            base,
            size,
            ops,
            warmupOps: warmupOps(options.quick),
            ring: ring(),
          });
        },
      },
    },
  };
  const sides = comparisons[comparison];
  return {
    id: sides.id,
    title: sides.title,
    unit: 'ops/s',
    ...(comparison === 'c-ring' ? { goal: { ratio: 1, direction: 'at-least' } as const } : {}),
    floor: {
      medium: 'ring',
      roundTripsPerOp: 1,
      ...(comparison === 'ts-socket' ? { baselineMedium: 'socket' as const } : {}),
    },
    async setup(options) {
      missing = undefined;
      await fixture.hooks.setup(options);
      if ((await fixture.hooks.unavailable()) !== undefined) return;
      try {
        await prerequisite('the native addon (mmap)', async () => {
          if (!isNativeAvailable()) throw new Error('not built');
        });
        if (comparison !== 'ts-socket') binary = await prerequisite('gcc', buildRingLoop);
      } catch (error) {
        if (!(error instanceof Unavailable)) throw error;
        missing = error.message;
      }
    },
    teardown: fixture.hooks.teardown,
    unavailable: async () => (await fixture.hooks.unavailable()) ?? missing,
    baseline: sides.baseline,
    candidate: sides.candidate,
  };
}

const pairs: BenchPair[] = [
  ringPair('read', 'c-ring'),
  ringPair('write', 'c-ring'),
  ringPair('read', 'least'),
  ringPair('read', 'ts-socket'),
  ringPair('write', 'ts-socket'),
];

export default pairs;
