/**
 * Xenstore workloads. Every op is defined once, in the header of `bench/c/xs-loop.c`; the
 * TypeScript client repeats the same sequences (`bench/lib/client-loop.ts`).
 *
 * - `xenstore.seq.*`: one request at a time, TS client vs C libxenstore, both against the real
 *   C xenstored.
 * - `xenstore.pipeline.*`: the TS client with 1, 8 or 64 reads in flight vs libxenstore's
 *   sequential reads (libxenstore cannot pipeline), both against the real C xenstored.
 * - `xenstore.pool.64`: 64 reads in flight over a `XenstorePool` of 4 connections, same baseline.
 * - `xenstore.txn.*`: transactions, TS client vs C libxenstore, against the real C xenstored.
 * - `xenstore.server.*`: the same C libxenstore loop against the in-memory xenstored (candidate)
 *   and the real C xenstored, or oxenstored (baseline; it needs a mount namespace, else the pair
 *   is skipped).
 * - `xenstore.watch.*`: the C loop's writes to an in-memory xenstored holding 10,000 watches
 *   that never match (candidate) vs one holding none (baseline).
 * - `xenstore.large.*`: a 1,000,000-node store in the in-memory xenstored. Filling the real C
 *   xenstored that far is impractical (each new child rewrites its parent's record, so a
 *   100,000-child node alone takes minutes), hence: the load against a plain `Map` of the same
 *   paths and values (the least any store can cost; bytes per node are extra figures), and the
 *   DIRECTORY_PART listing of its 100,000-child node by the TS client vs libxenstore, both
 *   against the in-memory xenstored.
 */
import type { BusyPoll } from '../src/event-loop/busy-poller.ts';
import { runClientLoop } from './lib/client-loop.ts';
import type { RealDaemon } from './lib/daemons.ts';
import { LARGE_STORE, type LargeStoreShape, WIDE_NODE } from './lib/large-store.ts';
import { measureStoreLoad } from './lib/store-load.ts';
import type { BenchPair, RunOptions } from './lib/types.ts';
import { XenstoreFixture } from './lib/xenstore-fixture.ts';
import { runXsLoop, type XsWorkload } from './lib/xs-loop.ts';

const C_CLIENT = 'C libxenstore';
const TS_CLIENT = 'xenwire client';

/** Ops per timed run: full runs take about a second per side, quick ones a few milliseconds. */
function opsFor(options: RunOptions, full: number): number {
  return options.quick ? Math.max(100, full / 20) : full;
}

interface ClientPair {
  readonly id: string;
  readonly title: string;
  readonly workload: XsWorkload;
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

/** The TS client against libxenstore, both talking to a fresh real C xenstored. */
function clientVsC(spec: ClientPair): BenchPair {
  const fixture = new XenstoreFixture({ realDaemon: 'xenstored', xsLoop: true });
  const run = (options: RunOptions, side: string) => ({
    workload: spec.workload,
    ops: opsFor(options, spec.ops),
    size: spec.size,
    base: fixture.nextBase(side),
  });
  return {
    id: spec.id,
    title: spec.title,
    unit: spec.workload === 'directory' ? 'listings/s' : 'ops/s',
    ...(spec.goal ? { goal: spec.goal } : {}),
    ...fixture.hooks,
    baseline: {
      label: C_CLIENT,
      run: (options) => runXsLoop(fixture.xsLoop, fixture.realDaemon.socketPath, run(options, 'c')),
    },
    candidate: {
      label: spec.connections
        ? `xenwire pool ×${spec.inFlight ?? 1}/${spec.connections}`
        : spec.inFlight
          ? `${TS_CLIENT} ×${spec.inFlight}`
          : spec.busyPoll === false
            ? `${TS_CLIENT}, never spinning`
            : TS_CLIENT,
      run: (options) =>
        runClientLoop(fixture.realDaemon.socketPath, {
          ...run(options, 'ts'),
          ...(spec.inFlight ? { inFlight: spec.inFlight } : {}),
          ...(spec.connections ? { connections: spec.connections } : {}),
          ...(spec.busyPoll === undefined ? {} : { busyPoll: spec.busyPoll }),
        }),
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
    // What the default's adaptive spinning is worth: the same reads with a client that always
    // sleeps until the reply wakes it, as plain Node I/O does.
    id: 'xenstore.seq.read-sleeping',
    title: 'READ, 16-byte value, one at a time, client with busyPoll: false',
    workload: 'read',
    ops: 20_000,
    size: 16,
    busyPoll: false,
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

/** The C loop's writes and reads, on the in-memory xenstored vs on one of Xen's daemons. */
function serverComparison(daemon: RealDaemon): BenchPair {
  const fixture = new XenstoreFixture({ realDaemon: daemon, mock: true, xsLoop: true });
  const run = (socketPath: string, options: RunOptions) =>
    runXsLoop(fixture.xsLoop, socketPath, {
      workload: 'write-read',
      ops: opsFor(options, 20_000),
      size: 16,
      base: fixture.nextBase('c'),
    });
  return {
    id: daemon === 'xenstored' ? 'xenstore.server.mock' : 'xenstore.server.mock-vs-oxenstored',
    title: `libxenstore: 20,000 writes + 20,000 reads, vs ${daemon}`,
    unit: 'ops/s',
    goal: { ratio: 1.5, direction: 'at-least' },
    ...fixture.hooks,
    baseline: {
      label: daemon === 'xenstored' ? 'C xenstored' : 'oxenstored',
      run: (options) => run(fixture.realDaemon.socketPath, options),
    },
    candidate: {
      label: 'xenwire xenstored',
      run: (options) => run(fixture.mock.socketPath, options),
    },
  };
}

/** The C loop's writes under many watches that never match vs under none. */
function watchFanOut(id: string, title: string, connections: number): BenchPair {
  const fixture = new XenstoreFixture({
    mock: true,
    watchedMock: { watches: 10_000, connections },
    xsLoop: true,
  });
  const run = (socketPath: string, options: RunOptions) =>
    runXsLoop(fixture.xsLoop, socketPath, {
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
    ...fixture.hooks,
    baseline: { label: 'no watches', run: (options) => run(fixture.mock.socketPath, options) },
    candidate: {
      label: '10,000 watches',
      run: (options) => run(fixture.watchedMock.socketPath, options),
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
  const fixture = new XenstoreFixture({ mock: largeStore, xsLoop: true });
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
    // One listing per run takes long enough that nothing is left to warm up.
    warmup: false,
    ...fixture.hooks,
    baseline: {
      label: C_CLIENT,
      run: (options) => runXsLoop(fixture.xsLoop, fixture.mock.socketPath, run(options)),
    },
    candidate: {
      label: TS_CLIENT,
      run: (options) => runClientLoop(fixture.mock.socketPath, run(options)),
    },
  };
}

const pairs: BenchPair[] = [
  ...[...sequential, ...pipelined, pooled, ...transactions].map(clientVsC),
  serverComparison('xenstored'),
  serverComparison('oxenstored'),
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
];

export default pairs;
