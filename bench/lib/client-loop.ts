import type { BusyPoll } from '../../src/event-loop/busy-poller.ts';
import { XenstoreClient } from '../../src/xenstore/client.ts';
import { XenstoreError } from '../../src/xenstore/errors.ts';
import { XenstorePool } from '../../src/xenstore/pool.ts';
import type { TransportConnector } from '../../src/xenstore/transport/transport.ts';
import type { Sample } from './types.ts';
import type { XsLoopRun } from './xs-loop.ts';

/** One run of the TypeScript client: an {@link XsLoopRun}, optionally pipelined. */
export interface ClientLoopRun extends XsLoopRun {
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
}

/**
 * Runs the TypeScript client through exactly the sequence `bench/c/xs-loop.c` runs for the same
 * workload (see its header), against the daemon at `socketPath`, timing only the loop. The
 * client connects through `transport` when given (e.g. a ring), else the socket.
 */
export async function runClientLoop(
  socketPath: string,
  run: ClientLoopRun,
  transport?: TransportConnector,
): Promise<Sample> {
  if (run.connections !== undefined) return runPoolReadLoop(socketPath, run, run.connections);
  const client = await XenstoreClient.connect({
    ...(transport ? { transport } : { socketPath }),
    ...(run.busyPoll === undefined ? {} : { busyPoll: run.busyPoll }),
  });
  try {
    const seconds = await timedWorkload(client, socketPath, run);
    if (run.workload !== 'list') await client.rm(run.base);
    const ops = run.workload === 'write-read' ? 2 * run.ops : run.ops;
    return { rate: ops / seconds };
  } finally {
    await client.close();
  }
}

/** The `read` workload through a pool, `inFlight` reads in flight across its connections. */
async function runPoolReadLoop(
  socketPath: string,
  run: ClientLoopRun,
  connections: number,
): Promise<Sample> {
  if (run.workload !== 'read') throw new RangeError(`${run.workload} does not run over a pool`);
  const pool = await XenstorePool.connect({ socketPath, size: connections });
  try {
    const path = `${run.base}/value`;
    await pool.write(path, Buffer.alloc(run.size, 'v'));
    const seconds = await timed(() => pipelined(run.ops, run.inFlight ?? 1, () => pool.read(path)));
    await pool.rm(run.base);
    return { rate: run.ops / seconds };
  } finally {
    await pool.close();
  }
}

/** Prepares the nodes, then returns the seconds the loop itself took. */
async function timedWorkload(
  client: XenstoreClient,
  socketPath: string,
  run: ClientLoopRun,
): Promise<number> {
  const { workload, ops, size, base } = run;
  const inFlight = run.inFlight ?? 1;
  if (inFlight !== 1 && workload !== 'read' && workload !== 'write') {
    throw new RangeError(`${workload} does not pipeline`);
  }
  if (workload === 'list') return timed(() => listRepeatedly(client, base, ops, size));
  const value = Buffer.alloc(workload === 'directory' ? 0 : size, 'v');
  const path = `${base}/value`;
  await client.write(path, value);
  switch (workload) {
    case 'read':
      return timed(() => pipelined(ops, inFlight, () => client.read(path)));
    case 'write':
      return timed(() => pipelined(ops, inFlight, () => client.write(path, value)));
    case 'directory': {
      const dir = `${base}/dir`;
      await Promise.all(Array.from({ length: size }, (_, i) => client.write(`${dir}/${i}`, '')));
      return timed(() => listRepeatedly(client, dir, ops, size));
    }
    case 'txn-empty':
      return timed(async () => {
        for (let i = 0; i < ops; i++) await (await client.transactionStart()).commit();
      });
    case 'txn-rmw': {
      const counter = `${base}/counter`;
      await client.write(counter, '0');
      return timed(async () => {
        for (let i = 0; i < ops; i++) await increment(client, counter);
      });
    }
    case 'txn-conflict': {
      const rival = await XenstoreClient.connect({ socketPath });
      try {
        return await timed(async () => {
          for (let i = 0; i < ops; i++) await conflict(client, rival, path);
        });
      } finally {
        await rival.close();
      }
    }
    case 'write-read':
      return timed(async () => {
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

async function timed(loop: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await loop();
  return Number(process.hrtime.bigint() - start) / 1e9;
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
