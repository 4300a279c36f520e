import {
  type BusyPoll,
  type TransportConnector,
  XenstoreClient,
  XenstoreError,
  XenstorePool,
} from '../../src/xenstore/index.ts';
import type { LoopOutcome } from './measured-child.ts';
import type { XsLoopRun, XsWorkload } from './xs-loop.ts';

/**
 * One run of the TypeScript client: an {@link XsLoopRun}, optionally pipelined. (`fill` is the
 * C loop's alone: it loads daemons for the memory pair.)
 */
export interface ClientLoopRun extends Omit<XsLoopRun, 'workload'> {
  readonly workload: Exclude<XsWorkload, 'fill'>;
  /**
   * Requests kept in flight on the one connection (default 1: each waits for the previous
   * reply, as libxenstore does). Only `read` and `write` may pipeline.
   */
  readonly inFlight?: number;
  /**
   * Connections of a {@link XenstorePool} the requests are spread over (default: one plain
   * client). Only `read` runs over a pool.
   */
  readonly connections?: number;
  /** The client's `busyPoll` (default: the client's own default). */
  readonly busyPoll?: BusyPoll;
  /**
   * Ops of the same workload to run first, untimed, under another base node: the process is
   * fresh, and this lets the JIT compile the loop and an adaptive `busyPoll` settle, as in a
   * program that has been running for a while (default none).
   */
  readonly warmupOps?: number;
}

/** A loop set up to run once; `close` cleans up after it and disconnects. */
export interface PreparedLoop {
  run(): Promise<LoopOutcome>;
  close(): Promise<void>;
}

/** A workload's nodes in place: the loop, and how to remove what it left. */
interface Workload {
  run(): Promise<LoopOutcome>;
  cleanUp(): Promise<void>;
}

/**
 * Connects the TypeScript client to the daemon at `socketPath` (through `transport` when given,
 * e.g. a ring), warms up, and sets up exactly the sequence `bench/c/xs-loop.c` runs for the same
 * workload (see its header), ready to run.
 */
export async function prepareClientLoop(
  socketPath: string,
  run: ClientLoopRun,
  transport?: TransportConnector,
): Promise<PreparedLoop> {
  const session =
    run.connections === undefined
      ? await XenstoreClient.connect({
          ...(transport ? { transport } : { socketPath }),
          ...(run.busyPoll === undefined ? {} : { busyPoll: run.busyPoll }),
        })
      : await XenstorePool.connect({ socketPath, size: run.connections });
  const setUp = (spec: ClientLoopRun): Promise<Workload> =>
    session instanceof XenstorePool
      ? poolRead(session, spec)
      : setUpWorkload(session, socketPath, spec);
  try {
    if (run.warmupOps) {
      // Two rounds: V8 compiles the loop's code for the requests it has seen, and the first
      // request of another kind (the round's clean-up, the timed run's set-up) sends that code
      // back to the interpreter; the second round compiles it again knowing them all.
      const rounds = Math.min(2, run.warmupOps);
      const ops = Math.ceil(run.warmupOps / rounds);
      for (let round = 0; round < rounds; round++) {
        // A listing changes nothing, so it warms up on its own node; the rest on nodes of their own.
        const base = run.workload === 'list' ? run.base : `${run.base}-warmup-${round}`;
        const warmup = await setUp({ ...run, ops, base });
        await warmup.run();
        await warmup.cleanUp();
      }
    }
    const timed = await setUp(run);
    return {
      run: () => timed.run(),
      close: async () => {
        try {
          await timed.cleanUp();
        } finally {
          await session.close();
        }
      },
    };
  } catch (error) {
    await session.close();
    throw error;
  }
}

/** The `read` workload through a pool, `inFlight` reads in flight across its connections. */
async function poolRead(pool: XenstorePool, run: ClientLoopRun): Promise<Workload> {
  if (run.workload !== 'read') throw new RangeError(`${run.workload} does not run over a pool`);
  const path = `${run.base}/value`;
  await pool.write(path, Buffer.alloc(run.size, 'v'));
  return {
    run: async () => {
      await pipelined(run.ops, run.inFlight ?? 1, () => pool.read(path));
      return { ops: run.ops };
    },
    cleanUp: () => pool.rm(run.base),
  };
}

/** Creates the workload's nodes; its loop then does only the workload's requests. */
async function setUpWorkload(
  client: XenstoreClient,
  socketPath: string,
  run: ClientLoopRun,
): Promise<Workload> {
  const { workload, ops, size, base } = run;
  const inFlight = run.inFlight ?? 1;
  if (inFlight !== 1 && workload !== 'read' && workload !== 'write') {
    throw new RangeError(`${workload} does not pipeline`);
  }
  const removeBase = () => client.rm(base);
  const loop = (body: () => Promise<void>, cleanUp = removeBase): Workload => ({
    run: async () => {
      await body();
      return { ops: workload === 'write-read' ? 2 * ops : ops };
    },
    cleanUp,
  });
  if (workload === 'list') {
    return loop(
      () => listRepeatedly(client, base, ops, size),
      async () => {},
    );
  }
  const value = Buffer.alloc(workload === 'directory' ? 0 : size, 'v');
  const path = `${base}/value`;
  await client.write(path, value);
  switch (workload) {
    case 'read':
      return loop(() => pipelined(ops, inFlight, () => client.read(path)));
    case 'write':
      return loop(() => pipelined(ops, inFlight, () => client.write(path, value)));
    case 'directory': {
      const dir = `${base}/dir`;
      await Promise.all(Array.from({ length: size }, (_, i) => client.write(`${dir}/${i}`, '')));
      return loop(() => listRepeatedly(client, dir, ops, size));
    }
    case 'txn-empty':
      return loop(async () => {
        for (let i = 0; i < ops; i++) await (await client.transactionStart()).commit();
      });
    case 'txn-rmw': {
      const counter = `${base}/counter`;
      await client.write(counter, '0');
      return loop(async () => {
        for (let i = 0; i < ops; i++) await increment(client, counter);
      });
    }
    case 'txn-conflict': {
      const rival = await XenstoreClient.connect({ socketPath });
      return loop(
        async () => {
          for (let i = 0; i < ops; i++) await conflict(client, rival, path);
        },
        async () => {
          await rival.close();
          await removeBase();
        },
      );
    }
    case 'write-read':
      return loop(async () => {
        for (let i = 0; i < ops; i++) await client.write(numbered(base, i), value);
        for (let i = 0; i < ops; i++) await client.read(numbered(base, i));
      });
  }
}

/** Lists `path` `ops` times, checking it has `children` children each time. */
async function listRepeatedly(
  client: XenstoreClient,
  path: string,
  ops: number,
  children: number,
): Promise<void> {
  for (let i = 0; i < ops; i++) {
    const names = await client.directory(path);
    if (names.length !== children)
      throw new Error(`listed ${names.length} of ${children} children`);
  }
}

/** Issues `ops` requests keeping `depth` of them in flight on the connection. */
async function pipelined(
  ops: number,
  depth: number,
  request: () => Promise<unknown>,
): Promise<void> {
  let issued = 0;
  const lane = async (): Promise<void> => {
    while (issued < ops) {
      issued += 1;
      await request();
    }
  };
  await Promise.all(Array.from({ length: Math.min(depth, ops) }, lane));
}

/** Read-modify-write of a counter in a transaction, retried on EAGAIN as the C loop does. */
async function increment(client: XenstoreClient, counter: string): Promise<void> {
  for (;;) {
    const tx = await client.transactionStart();
    const next = Number((await tx.read(counter)).toString()) + 1;
    await tx.write(counter, String(next));
    try {
      await tx.commit();
      return;
    } catch (error) {
      if (!isEagain(error)) throw error;
    }
  }
}

/** A transaction that a rival connection's write dooms; its commit must fail with EAGAIN. */
async function conflict(
  client: XenstoreClient,
  rival: XenstoreClient,
  path: string,
): Promise<void> {
  const tx = await client.transactionStart();
  await tx.read(path);
  await rival.write(path, 'rival');
  await tx.write(path, 'mine');
  try {
    await tx.commit();
  } catch (error) {
    if (isEagain(error)) return;
    throw error;
  }
  throw new Error('a conflicting transaction committed');
}

function isEagain(error: unknown): boolean {
  return error instanceof XenstoreError && error.code === 'EAGAIN';
}

/** Node names of the write-read workload, as in xs-loop.c: 100 children per directory. */
function numbered(base: string, i: number): string {
  return `${base}/${Math.floor(i / 100)}/${i % 100}`;
}
