/**
 * Xenstore workloads. Every op is defined once, in the header of `bench/c/xs-loop.c`; the
 * TypeScript client repeats the same sequences (`bench/lib/client-loop.ts`).
 *
 * - `xenstore.seq.*`: one request at a time, TS client vs C libxenstore, both against the real
 *   C xenstored.
 * - `xenstore.pipeline.*`: the TS client with 1, 8 or 64 reads in flight vs libxenstore's
 *   sequential reads (libxenstore cannot pipeline), both against the real C xenstored.
 * - `xenstore.txn.*`: transactions, TS client vs C libxenstore, against the real C xenstored.
 */
import { runClientLoop } from './lib/client-loop.ts';
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
  readonly goal?: BenchPair['goal'];
}

/** The TS client against libxenstore, both talking to a fresh real C xenstored. */
function clientVsC(spec: ClientPair): BenchPair {
  const fixture = new XenstoreFixture({ cDaemon: true, xsLoop: true });
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
      run: (options) => runXsLoop(fixture.xsLoop, fixture.cDaemon.socketPath, run(options, 'c')),
    },
    candidate: {
      label: spec.inFlight ? `${TS_CLIENT} ×${spec.inFlight}` : TS_CLIENT,
      run: (options) =>
        runClientLoop(fixture.cDaemon.socketPath, {
          ...run(options, 'ts'),
          ...(spec.inFlight ? { inFlight: spec.inFlight } : {}),
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
  ...(inFlight === 64 ? { goal: { ratio: 3, direction: 'at-least' } as const } : {}),
}));

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

const pairs: BenchPair[] = [...sequential, ...pipelined, ...transactions].map(clientVsC);

export default pairs;
