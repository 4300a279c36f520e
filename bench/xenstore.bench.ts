/**
 * Xenstore workloads. Every op is defined once, in the header of `bench/c/xs-loop.c`; the
 * TypeScript client repeats the same sequences (`bench/lib/client-loop.ts`).
 *
 * Every side runs in a process of its own: the C loop, the TypeScript client
 * (`bench/lib/client-loop-process.ts`), and each daemon. Each run reports the CPU time per op of
 * its client process and of the daemon.
 *
 * - `xenstore.seq.*`: one request at a time, TS client vs C libxenstore, both against the real
 *   C xenstored.
 * - `xenstore.busypoll.read`: the same reads by the TS client with `busyPoll: 'adaptive'` vs
 *   its default (`false`, never spinning): what spinning buys, and what it costs in CPU.
 * - `xenstore.pipeline.*`: the TS client with 1, 8 or 64 reads in flight vs libxenstore's
 *   sequential reads (libxenstore cannot pipeline), both against the real C xenstored.
 * - `xenstore.pool.64`: 64 reads in flight over a `XenstorePool` of 4 connections, same baseline.
 * - `xenstore.txn.*`: transactions, TS client vs C libxenstore, against the real C xenstored.
 * - `xenstore.server.*`: the same C libxenstore loop against the in-memory xenstored (candidate)
 *   and the real C xenstored, or oxenstored (baseline; it needs a mount namespace, else the pair
 *   is skipped). The daemon's CPU per op is what these pairs are about.
 * - `xenstore.busypoll.server`: the C loop against the in-memory xenstored listening with
 *   `busyPoll: 'adaptive'` vs its default (`false`).
 * - `xenstore.watch.*`: the C loop's writes to an in-memory xenstored holding 10,000 watches
 *   that never match (candidate) vs one holding none (baseline).
 * - `xenstore.large.*`: a 1,000,000-node store in the in-memory xenstored. Filling the real C
 *   xenstored that far is impractical (each new child rewrites its parent's record, so a
 *   100,000-child node alone takes minutes), hence: the load against a plain `Map` of the same
 *   paths and values (the least any store can cost; bytes per node are extra figures), and the
 *   DIRECTORY_PART listing of its 100,000-child node by the TS client vs libxenstore, both
 *   against the in-memory xenstored.
 * - `xenstore.large.memory`: the same tree of 50,000 nodes in directories of 100, written by the
 *   C loop into a fresh C xenstored and a fresh in-memory xenstored; the growth of each daemon's
 *   resident memory per node (the in-memory one's after a full garbage collection). Not
 *   1,000,000: C xenstored 4.17 takes time proportional to its store for every node it creates
 *   (see bench/README.md), so a million-node fill would take about an hour.
 */
import type { BusyPoll } from '../src/xenstore/index.ts';
import { runClientLoop, warmupOps } from './lib/client-loop.ts';
import type { ClientLoopRun } from './lib/client-workloads.ts';
import {
  type RealDaemon,
  startMockXenstored,
  startRealDaemon,
  type XenstoreDaemon,
} from './lib/daemons.ts';
import { LEAST_NODE_CLIENT, NULL_DAEMON } from './lib/goals.ts';
import { LARGE_STORE, type LargeStoreShape, WIDE_NODE } from './lib/large-store.ts';
import { runLeastClient } from './lib/least-client.ts';
import { residentBytes } from './lib/process-cpu.ts';
import { measureStoreLoad } from './lib/store-load.ts';
import type { BenchPair, FloorReference, RunOptions, Sample } from './lib/types.ts';
import { XenstoreFixture } from './lib/xenstore-fixture.ts';
import { ROUND_TRIPS_PER_OP, runXsLoop, type XsWorkload } from './lib/xs-loop.ts';

const C_CLIENT = 'C libxenstore';
const TS_CLIENT = 'xenwire client';

/** Ops per timed run: full runs take about a second per side, quick ones a few milliseconds. */
function opsFor(options: RunOptions, full: number): number {
  return options.quick ? Math.max(100, full / 20) : full;
}

/** The socket floor, for a pair of one-at-a-time ops of `workload`. */
function socketFloor(workload: XsWorkload): FloorReference | undefined {
  const roundTripsPerOp = ROUND_TRIPS_PER_OP[workload];
  return roundTripsPerOp === undefined ? undefined : { medium: 'socket', roundTripsPerOp };
}

interface ClientPair {
  readonly id: string;
  readonly title: string;
  readonly workload: ClientLoopRun['workload'];
  /** Ops per full run. */
  readonly ops: number;
  readonly size: number;
  readonly inFlight?: number;
  /** Connections of a `XenstorePool` carrying the requests (default: one plain client). */
  readonly connections?: number;
  /** The client's `busyPoll`, when the pair is about it. */
  readonly busyPoll?: BusyPoll;
  readonly goal?: BenchPair['goal'];
}

/** The TS client's run of `spec`, warmed up first. */
function clientRun(spec: ClientPair, options: RunOptions, base: string): ClientLoopRun {
  return {
    workload: spec.workload,
    ops: opsFor(options, spec.ops),
    size: spec.size,
    base,
    warmupOps: warmupOps(options.quick),
    ...(spec.inFlight ? { inFlight: spec.inFlight } : {}),
    ...(spec.connections ? { connections: spec.connections } : {}),
    ...(spec.busyPoll === undefined ? {} : { busyPoll: spec.busyPoll }),
  };
}

function clientLabel(spec: ClientPair): string {
  return spec.connections
    ? `xenwire pool ×${spec.inFlight ?? 1}/${spec.connections}`
    : spec.inFlight
      ? `${TS_CLIENT} ×${spec.inFlight}`
      : spec.busyPoll === undefined
        ? TS_CLIENT
        : `${TS_CLIENT}, busyPoll ${spec.busyPoll}`;
}

/** The TS client against libxenstore, both talking to a fresh real C xenstored. */
function clientVsC(spec: ClientPair): BenchPair {
  const fixture = new XenstoreFixture({ realDaemon: 'xenstored', xsLoop: true });
  const floor = socketFloor(spec.workload);
  return {
    id: spec.id,
    title: spec.title,
    unit: spec.workload === 'directory' ? 'listings/s' : 'ops/s',
    ...(spec.goal ? { goal: spec.goal } : {}),
    ...(floor ? { floor } : {}),
    ...fixture.hooks,
    baseline: {
      label: C_CLIENT,
      run: (options) =>
        runXsLoop(fixture.xsLoop, fixture.realDaemon, {
          workload: spec.workload,
          ops: opsFor(options, spec.ops),
          size: spec.size,
          base: fixture.nextBase('c'),
        }),
    },
    candidate: {
      label: clientLabel(spec),
      run: (options) =>
        runClientLoop(fixture.realDaemon, clientRun(spec, options, fixture.nextBase('ts'))),
    },
  };
}

/**
 * The bound of the client goals: the least a Node process can do per READ round trip through its
 * event loop (`lib/least-client-process.ts`: a prebuilt frame, a promise per op, no parsing) vs
 * C libxenstore, 16-byte values one at a time, against a fresh C xenstored. What it costs beyond
 * C is Node's own, which no client written for Node can take off.
 */
function leastNodeClient(): BenchPair {
  const fixture = new XenstoreFixture({ realDaemon: 'xenstored', xsLoop: true });
  const ops = (options: RunOptions) => opsFor(options, 20_000);
  return {
    id: LEAST_NODE_CLIENT,
    title: 'READ, 16-byte value, one at a time: the least a Node process can do vs libxenstore',
    unit: 'ops/s',
    floor: { medium: 'socket', roundTripsPerOp: 1 },
    ...fixture.hooks,
    baseline: {
      label: C_CLIENT,
      run: (options) =>
        runXsLoop(fixture.xsLoop, fixture.realDaemon, {
          workload: 'read',
          ops: ops(options),
          size: 16,
          base: fixture.nextBase('c'),
        }),
    },
    candidate: {
      label: 'least Node round trip',
      run: (options) =>
        runLeastClient(fixture.realDaemon, {
          base: fixture.nextBase('node'),
          size: 16,
          ops: ops(options),
          warmupOps: warmupOps(options.quick),
        }),
    },
  };
}

/**
 * The TS client's one-at-a-time reads with `busyPoll: 'adaptive'` (candidate) vs its default,
 * `false` (baseline), against a fresh real C xenstored: what spinning buys in rate and costs in
 * CPU, in each condition, i.e. where turning it on pays.
 */
function spinningClient(): BenchPair {
  const fixture = new XenstoreFixture({ realDaemon: 'xenstored' });
  const reads: ClientPair = {
    id: 'xenstore.busypoll.read',
    title: "READ one at a time: client with busyPoll: 'adaptive' vs the default (false)",
    workload: 'read',
    ops: 20_000,
    size: 16,
  };
  const run = (options: RunOptions, busyPoll: BusyPoll) =>
    runClientLoop(
      fixture.realDaemon,
      clientRun({ ...reads, busyPoll }, options, fixture.nextBase('ts')),
    );
  return {
    id: reads.id,
    title: reads.title,
    unit: 'ops/s',
    floor: { medium: 'socket', roundTripsPerOp: 1 },
    ...fixture.hooks,
    baseline: { label: `${TS_CLIENT}, busyPoll false`, run: (options) => run(options, false) },
    candidate: {
      label: `${TS_CLIENT}, busyPoll adaptive`,
      run: (options) => run(options, 'adaptive'),
    },
  };
}

const parity = { ratio: 1, direction: 'at-least' } as const;

const sequential: ClientPair[] = [
  {
    id: 'xenstore.seq.read',
    title: 'READ, 16-byte value, one at a time',
    workload: 'read',
    ops: 20_000,
    size: 16,
    goal: parity,
  },
  {
    id: 'xenstore.seq.write',
    title: 'WRITE, 16-byte value, one at a time',
    workload: 'write',
    ops: 20_000,
    size: 16,
    goal: parity,
  },
  {
    id: 'xenstore.seq.read-2000',
    title: 'READ, 2,000-byte value, one at a time',
    workload: 'read',
    ops: 20_000,
    size: 2000,
    goal: parity,
  },
  {
    id: 'xenstore.seq.write-2000',
    title: 'WRITE, 2,000-byte value, one at a time',
    workload: 'write',
    ops: 20_000,
    size: 2000,
    goal: parity,
  },
  {
    // What spinning is worth against C: the same reads by a client that spins when that is
    // quicker (the default never spins).
    id: 'xenstore.seq.read-adaptive',
    title: "READ, 16-byte value, one at a time, client with busyPoll: 'adaptive'",
    workload: 'read',
    ops: 20_000,
    size: 16,
    busyPoll: 'adaptive',
  },
  {
    id: 'xenstore.seq.directory',
    title: 'DIRECTORY of 16 children, one at a time',
    workload: 'directory',
    ops: 20_000,
    size: 16,
    goal: parity,
  },
];

const pipelined: ClientPair[] = [1, 8, 64].map((inFlight) => ({
  id: `xenstore.pipeline.${inFlight}`,
  title: `READ with ${inFlight} in flight vs libxenstore one at a time`,
  workload: 'read',
  ops: 20_000,
  size: 16,
  inFlight,
}));

/**
 * 64 reads in flight over a pool of 4 connections. The C xenstored reads one request per
 * connection per turn of its poll loop, which caps one connection whatever the pipelining
 * (`xenstore.pipeline.64`), hence the goal of 3x for 64 requests in flight is set on this pair.
 */
const pooled: ClientPair = {
  id: 'xenstore.pool.64',
  title: 'READ with 64 in flight over 4 connections vs libxenstore one at a time',
  workload: 'read',
  ops: 20_000,
  size: 16,
  inFlight: 64,
  connections: 4,
  goal: { ratio: 3, direction: 'at-least' },
};

const transactions: ClientPair[] = [
  {
    id: 'xenstore.txn.empty',
    title: 'Empty transaction: start + commit',
    workload: 'txn-empty',
    ops: 10_000,
    size: 0,
  },
  {
    id: 'xenstore.txn.rmw',
    title: 'Transaction: read a counter, write it + 1, commit',
    workload: 'txn-rmw',
    ops: 5_000,
    size: 0,
  },
  {
    id: 'xenstore.txn.conflict',
    title: 'Transaction doomed by a rival write (EAGAIN)',
    workload: 'txn-conflict',
    ops: 5_000,
    size: 0,
  },
];

/** The C loop's 20,000 writes then 20,000 reads of distinct nodes against `daemon`. */
function writeThenRead(
  fixture: XenstoreFixture,
  daemon: XenstoreDaemon,
  options: RunOptions,
): Promise<Sample> {
  return runXsLoop(fixture.xsLoop, daemon, {
    workload: 'write-read',
    ops: opsFor(options, 20_000),
    size: 16,
    base: fixture.nextBase('c'),
  });
}

/** One side of a {@link daemonsUnderTheCLoop} pair: a daemon of the pair's fixture. */
interface DaemonSide {
  readonly label: string;
  readonly daemon: (fixture: XenstoreFixture) => XenstoreDaemon;
}

/**
 * The C loop's writes and reads against two daemons of `fixture`, one per side: pairs about the
 * daemon's CPU per op, held to the socket floor.
 */
function daemonsUnderTheCLoop(pair: {
  readonly id: string;
  readonly title: string;
  readonly goal?: BenchPair['goal'];
  readonly fixture: XenstoreFixture;
  readonly baseline: DaemonSide;
  readonly candidate: DaemonSide;
}): BenchPair {
  const { fixture } = pair;
  const side = ({ label, daemon }: DaemonSide) => ({
    label,
    run: (options: RunOptions) => writeThenRead(fixture, daemon(fixture), options),
  });
  return {
    id: pair.id,
    title: pair.title,
    unit: 'ops/s',
    ...(pair.goal ? { goal: pair.goal } : {}),
    cpuRole: 'daemon',
    floor: { medium: 'socket', roundTripsPerOp: 1 },
    ...fixture.hooks,
    baseline: side(pair.baseline),
    candidate: side(pair.candidate),
  };
}

/** The C loop's writes and reads, on the in-memory xenstored vs on one of Xen's daemons. */
function serverComparison(daemon: RealDaemon): BenchPair {
  return daemonsUnderTheCLoop({
    id: daemon === 'xenstored' ? 'xenstore.server.mock' : 'xenstore.server.mock-vs-oxenstored',
    title: `libxenstore: 20,000 writes + 20,000 reads, vs ${daemon}`,
    // Against C xenstored, the goal of issue 24; against oxenstored, the earlier one.
    goal: { ratio: daemon === 'xenstored' ? 1.25 : 1.5, direction: 'at-least' },
    fixture: new XenstoreFixture({ realDaemon: daemon, mock: true, xsLoop: true }),
    baseline: {
      label: daemon === 'xenstored' ? 'C xenstored' : 'oxenstored',
      daemon: (f) => f.realDaemon,
    },
    candidate: { label: 'xenwire xenstored', daemon: (f) => f.mock },
  });
}

/**
 * The bound of the floor goal: the C loop's writes and reads against a daemon that answers at
 * once and does nothing else (`c/null-xenstored.c`) vs C xenstored. No daemon can give that loop
 * more of the floor than this one does.
 */
function nullDaemon(): BenchPair {
  return daemonsUnderTheCLoop({
    id: NULL_DAEMON,
    title: 'libxenstore: 20,000 writes + 20,000 reads, a daemon that does nothing vs C xenstored',
    fixture: new XenstoreFixture({ realDaemon: 'xenstored', nullDaemon: true, xsLoop: true }),
    baseline: { label: 'C xenstored', daemon: (f) => f.realDaemon },
    candidate: { label: 'null xenstored', daemon: (f) => f.nullDaemon },
  });
}

/**
 * The C loop against the in-memory xenstored listening with `busyPoll: 'adaptive'` (candidate)
 * vs its default, `false` (baseline): what the server's spinning buys and costs.
 */
function spinningServer(): BenchPair {
  return daemonsUnderTheCLoop({
    id: 'xenstore.busypoll.server',
    title:
      "libxenstore writes + reads: xenwire xenstored, busyPoll: 'adaptive' vs the default (false)",
    fixture: new XenstoreFixture({
      mock: true,
      secondMock: { busyPoll: 'adaptive' },
      xsLoop: true,
    }),
    baseline: { label: 'xenwire xenstored, busyPoll false', daemon: (f) => f.mock },
    candidate: { label: 'xenwire xenstored, busyPoll adaptive', daemon: (f) => f.secondMock },
  });
}

/** The C loop's writes under many watches that never match vs under none. */
function watchFanOut(id: string, title: string, connections: number): BenchPair {
  const fixture = new XenstoreFixture({
    mock: true,
    secondMock: { watches: { watches: 10_000, connections } },
    xsLoop: true,
  });
  const run = (daemon: XenstoreDaemon, options: RunOptions) =>
    runXsLoop(fixture.xsLoop, daemon, {
      workload: 'write',
      ops: opsFor(options, 20_000),
      size: 16,
      base: fixture.nextBase('c'),
    });
  return {
    id,
    title,
    unit: 'writes/s',
    // At most 1.2 times the cost of a write, i.e. at least 1/1.2 of the rate.
    goal: { ratio: 1 / 1.2, direction: 'at-least' },
    cpuRole: 'daemon',
    floor: { medium: 'socket', roundTripsPerOp: 1 },
    ...fixture.hooks,
    baseline: { label: 'no watches', run: (options) => run(fixture.mock, options) },
    candidate: {
      label: '10,000 watches',
      run: (options) => run(fixture.secondMock, options),
    },
  };
}

function largeStore(options: RunOptions): LargeStoreShape {
  return options.quick
    ? { nodes: LARGE_STORE.nodes / 100, wideChildren: LARGE_STORE.wideChildren / 100 }
    : LARGE_STORE;
}

const storeLoad: BenchPair = {
  id: 'xenstore.large.load',
  title: 'Load 1,000,000 nodes: xenwire xenstored vs a bare Map',
  unit: 'nodes/s',
  // Every run is a fresh process.
  warmup: false,
  baseline: {
    label: 'Map<path, Buffer>',
    run: (options) => measureStoreLoad('map', largeStore(options)),
  },
  candidate: {
    label: 'xenwire xenstored',
    run: (options) => measureStoreLoad('mock', largeStore(options)),
  },
};

/** Listing the 100,000-child node: the TS client vs libxenstore, both on the in-memory daemon. */
function directoryPart(): BenchPair {
  const fixture = new XenstoreFixture({
    mock: (options) => ({ large: largeStore(options) }),
    xsLoop: true,
  });
  const run = (options: RunOptions) => ({
    workload: 'list' as const,
    ops: 1,
    size: largeStore(options).wideChildren,
    base: WIDE_NODE,
  });
  return {
    id: 'xenstore.large.directory-part',
    title: 'List a 100,000-child node (DIRECTORY_PART), 1M-node store',
    unit: 'listings/s',
    // The daemon's store is loaded before the pairs; the TS client warms up in its own process.
    warmup: false,
    ...fixture.hooks,
    baseline: {
      label: C_CLIENT,
      run: (options) => runXsLoop(fixture.xsLoop, fixture.mock, run(options)),
    },
    candidate: {
      label: TS_CLIENT,
      // Its process is fresh: one listing first, untimed, compiles the client's code for it.
      run: (options) => runClientLoop(fixture.mock, { ...run(options), warmupOps: 1 }),
    },
  };
}

/**
 * Nodes of the memory pair's tree: C xenstored's fill time grows with the square of the count, and
 * this many take it about ten seconds, so that five pairs fit the bench's time budget.
 */
const MEMORY_NODES = 50_000;
/** Nodes and writes of the memory pair's warm-up (see `memoryPerNode`). */
const WARM_UP_NODES = 2_000;
const WARM_UP_WRITES = 50_000;

/**
 * The same tree loaded into a fresh C xenstored (baseline) and a fresh in-memory xenstored
 * (candidate) by the C loop, one write at a time: each daemon's resident memory grows by
 * `bytesPerNode` per node (the extra figure the goal is judged on; the in-memory xenstored's after
 * a full garbage collection, with its heap's growth as `heapBytesPerNode`); the rate is the
 * fill's.
 */
function memoryPerNode(): BenchPair {
  // Only for the compiled loop and the knowledge that the real daemon can run: every run starts
  // its own daemons, since a store filled by an earlier run would be measured on top of.
  const fixture = new XenstoreFixture({ realDaemon: 'xenstored', xsLoop: true });
  const fill = async (start: () => Promise<XenstoreDaemon>, options: RunOptions) => {
    const daemon = await start();
    try {
      // A quick run only shows the plumbing: a tenth of everything, warm-up included.
      const share = options.quick ? 10 : 1;
      const nodes = MEMORY_NODES / share;
      // Resident memory of what each daemon holds: the in-memory xenstored collects its garbage
      // first (and reports its heap); the C daemon frees as it goes.
      const measure = async (): Promise<{ resident: number; heap?: number }> => {
        const heap = await daemon.collectGarbage?.();
        return { resident: residentBytes(daemon.pid), ...(heap === undefined ? {} : { heap }) };
      };
      // Untimed and unmeasured, the same for both daemons: writes that settle a daemon's own
      // working memory (for the in-memory xenstored, V8's young generation and compiled code,
      // a few MB however large the store), and nodes under another base that compile the paths
      // creating them, so that what is measured grows with the tree alone.
      await runXsLoop(fixture.xsLoop, daemon, {
        workload: 'fill',
        ops: WARM_UP_NODES / share,
        size: 10,
        base: '/bench/warm-up',
      });
      await runXsLoop(fixture.xsLoop, daemon, {
        workload: 'write',
        ops: WARM_UP_WRITES / share,
        size: 10,
        base: '/bench/warm-up-writes',
      });
      const before = await measure();
      const sample = await runXsLoop(fixture.xsLoop, daemon, {
        workload: 'fill',
        ops: nodes,
        size: 10,
        base: '/bench/memory',
      });
      const after = await measure();
      const heap: Record<string, number> =
        after.heap === undefined || before.heap === undefined
          ? {}
          : { heapBytesPerNode: (after.heap - before.heap) / nodes };
      return {
        ...sample,
        extra: {
          bytesPerNode: (after.resident - before.resident) / nodes,
          residentMiB: after.resident / 2 ** 20,
          ...heap,
        },
      };
    } finally {
      await daemon.stop();
    }
  };
  return {
    id: 'xenstore.large.memory',
    title: 'Memory per node: 50,000 nodes written one at a time, vs C xenstored',
    unit: 'nodes/s',
    cpuRole: 'daemon',
    anyCondition: true,
    warmup: false,
    ...fixture.hooks,
    baseline: {
      label: 'C xenstored',
      run: (options) => fill(() => startRealDaemon('xenstored'), options),
    },
    candidate: {
      label: 'xenwire xenstored',
      run: (options) => fill(() => startMockXenstored(), options),
    },
  };
}

const pairs: BenchPair[] = [
  ...[...sequential, ...pipelined, pooled, ...transactions].map(clientVsC),
  leastNodeClient(),
  spinningClient(),
  serverComparison('xenstored'),
  nullDaemon(),
  serverComparison('oxenstored'),
  spinningServer(),
  watchFanOut(
    'xenstore.watch.one-connection',
    'WRITE under 10,000 unrelated watches, 1 connection',
    1,
  ),
  watchFanOut(
    'xenstore.watch.many-connections',
    'WRITE under 10,000 unrelated watches, 100 connections',
    100,
  ),
  storeLoad,
  directoryPart(),
  memoryPerNode(),
];

export default pairs;
