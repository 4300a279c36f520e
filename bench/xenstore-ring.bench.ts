/**
 * Xenstore round trips over dom0's ring page (`xsd_kva`) of the real C xenstored, under the
 * harness's shim: the page is a file both sides map, the event channel a pair of datagram
 * sockets (harness/README.md).
 *
 * - `xenstore.ring.read`/`.write`: the TypeScript client over the ring transport vs a small C
 *   ring client (`bench/xenstore-ring/ring-loop.c`), the same sequence as `bench/c/xs-loop.c`.
 * - `xenstore.ring.*-vs-socket`: the same TypeScript client over the ring vs over the daemon's
 *   unix socket.
 *
 * Each side binds dom0's event-channel socket only for its own run, so the two ends alternate
 * on one page and one daemon.
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { mapFile, unmap } from '../src/device/index.ts';
import { SocketEventChannel } from '../src/evtchn/index.ts';
import { ringConnector } from '../src/xenstore/transport/ring.ts';
import { compileC } from './lib/c-program.ts';
import { runClientLoop } from './lib/client-loop.ts';
import type { BenchPair, RunOptions, Sample } from './lib/types.ts';
import { prerequisite, Unavailable } from './lib/unavailable.ts';
import { XenstoreFixture } from './lib/xenstore-fixture.ts';
import { locateXenRoot, type XsLoopRun } from './lib/xs-loop.ts';

const run = promisify(execFile);
const ringLoopSource = fileURLToPath(new URL('./xenstore-ring/ring-loop.c', import.meta.url));

/** Dom0's port (the harness's `xsd_port`), the same number at both ends of the channel. */
const DOM0_PORT = 1;
const TS_RING = 'xenwire client, ring';

/** dom0's page, its event-channel sockets and the daemon's socket. */
interface Dom0Ring {
  readonly socketPath: string;
  readonly pagePath: string;
  readonly daemonEvents: string;
  readonly ownEvents: string;
}

/** The harness's shim directory is the daemon's socket directory. */
function dom0Ring(socketPath: string): Dom0Ring {
  const rundir = dirname(socketPath);
  return {
    socketPath,
    pagePath: join(rundir, 'xsd_kva'),
    daemonEvents: join(rundir, 'evtchn.sock'),
    ownEvents: join(rundir, 'dom0.evtchn'),
  };
}

/** One run of the TypeScript client over the ring. */
async function runTsRing(ring: Dom0Ring, page: Uint8Array, spec: XsLoopRun): Promise<Sample> {
  const eventChannel = SocketEventChannel.open({
    localPath: ring.ownEvents,
    peerPath: ring.daemonEvents,
  });
  try {
    const port = eventChannel.bindInterdomain(0, DOM0_PORT);
    return await runClientLoop(ring.socketPath, spec, ringConnector({ page, eventChannel, port }));
  } finally {
    eventChannel.close();
  }
}

/** One run of the C ring client, process start-up excluded from its timing. */
async function runCRing(binary: string, ring: Dom0Ring, spec: XsLoopRun): Promise<Sample> {
  const { stdout } = await run(binary, [
    ring.pagePath,
    ring.daemonEvents,
    ring.ownEvents,
    String(DOM0_PORT),
    spec.workload,
    String(spec.ops),
    String(spec.size),
    spec.base,
  ]);
  return { rate: (JSON.parse(stdout) as { rate: number }).rate };
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
type Baseline = 'c-ring' | 'ts-socket';

function ringPair(workload: Workload, baseline: Baseline): BenchPair {
  const fixture = new XenstoreFixture({ realDaemon: 'xenstored' });
  let binary: string | undefined;
  let mapped: ArrayBuffer | undefined;
  let missing: string | undefined;
  const spec = (options: RunOptions, side: string): XsLoopRun => ({
    workload,
    ops: options.quick ? 500 : 20_000,
    size: 16,
    base: fixture.nextBase(side),
  });
  const ring = () => dom0Ring(fixture.realDaemon.socketPath);
  const page = () => {
    if (!mapped) throw new Error('xsd_kva was not mapped (setup did not run?)');
    return new Uint8Array(mapped);
  };
  const upper = workload.toUpperCase();
  return {
    id: baseline === 'c-ring' ? `xenstore.ring.${workload}` : `xenstore.ring.${workload}-vs-socket`,
    title:
      baseline === 'c-ring'
        ? `${upper} over dom0's ring, 16-byte value, one at a time: vs a C ring client`
        : `${upper}, 16-byte value, one at a time: ring vs unix socket, same client`,
    unit: 'ops/s',
    ...(baseline === 'c-ring' ? { goal: { ratio: 1, direction: 'at-least' } as const } : {}),
    async setup(options) {
      await fixture.hooks.setup(options);
      if ((await fixture.hooks.unavailable()) !== undefined) return;
      try {
        mapped = await prerequisite('the native addon (mmap)', async () =>
          mapFile(ring().pagePath, { length: 4096 }),
        );
        if (baseline === 'c-ring') binary = await prerequisite('gcc', buildRingLoop);
      } catch (error) {
        if (!(error instanceof Unavailable)) throw error;
        missing = error.message;
      }
    },
    async teardown() {
      if (mapped) unmap(mapped);
      mapped = undefined;
      await fixture.hooks.teardown();
    },
    unavailable: async () => (await fixture.hooks.unavailable()) ?? missing,
    baseline:
      baseline === 'c-ring'
        ? {
            label: 'C ring client',
            run: (options) => runCRing(binary!, ring(), spec(options, 'c')),
          }
        : {
            label: 'xenwire client, socket',
            run: (options) => runClientLoop(ring().socketPath, spec(options, 'socket')),
          },
    candidate: {
      label: TS_RING,
      run: (options) => runTsRing(ring(), page(), spec(options, 'ring')),
    },
  };
}

const pairs: BenchPair[] = [
  ringPair('read', 'c-ring'),
  ringPair('write', 'c-ring'),
  ringPair('read', 'ts-socket'),
  ringPair('write', 'ts-socket'),
];

export default pairs;
