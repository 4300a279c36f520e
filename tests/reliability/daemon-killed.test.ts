import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Transaction } from '../../src/xenstore/client/transaction.ts';
import type { Watch, XenstoreWatchEvent } from '../../src/xenstore/client/watch.ts';
import { type ReconnectInfo, XenstoreClient } from '../../src/xenstore/client.ts';
import { XenstoreError } from '../../src/xenstore/errors.ts';
import { startRealXenstored, xenInstall } from '../support/real-xenstored.ts';
import { startInMemoryDaemon } from '../support/server-process.ts';

/** A daemon in a process of its own, which the test can freeze, kill and bring back. */
interface KillableDaemon {
  readonly socketPath: string;
  readonly pid: number;
  /** Starts a daemon on the same socket path again; resolves once it serves. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function inMemoryDaemon(): Promise<KillableDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'xenwire-killed-'));
  const socketPath = join(dir, 'socket');
  let current = await startInMemoryDaemon(socketPath);
  return {
    socketPath,
    get pid() {
      return current.child.pid!;
    },
    async restart() {
      // The killed daemon left its socket file behind: the new one must clear it, not fail.
      current = await startInMemoryDaemon(socketPath);
    },
    async stop() {
      current.child.kill('SIGKILL');
      await current.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function cDaemon(): Promise<KillableDaemon> {
  let current = await startRealXenstored(xenInstall!);
  const { rundir, socketPath } = current;
  return {
    socketPath,
    get pid() {
      return current.pid;
    },
    async restart() {
      current = await startRealXenstored(xenInstall!, 'xenstored', rundir);
    },
    stop: () => current.stop(),
  };
}

/** Everything a client had going when its daemon died. */
interface InFlight {
  readonly client: XenstoreClient;
  readonly watches: Watch[];
  readonly iterators: AsyncIterator<XenstoreWatchEvent>[];
  readonly tx: Transaction;
  /** 100 requests, a read inside the transaction, and each watch's next event. */
  readonly pending: Promise<unknown>[];
}

const REQUESTS = 100;
const WATCHES = 3;

/**
 * Connects, sets up 3 watches (their registration events taken) and an open transaction with a
 * write in it. The caller freezes the daemon, then calls `send()` to put the requests in flight.
 */
async function prepare(socketPath: string, reconnect: boolean, name: string) {
  const client = await XenstoreClient.connect({
    socketPath,
    busyPoll: false,
    // No timeout: only the connection's loss may settle what is in flight.
    timeout: 0,
    reconnect: reconnect && { initialDelay: 10, maxDelay: 100, maxAttempts: 1_000 },
  });
  const watches: Watch[] = [];
  const iterators: AsyncIterator<XenstoreWatchEvent>[] = [];
  for (let i = 0; i < WATCHES; i++) {
    const watch = await client.watch(`/killed/${name}/w${i}`);
    const iterator = watch[Symbol.asyncIterator]();
    expect((await iterator.next()).value?.path).toBe(`/killed/${name}/w${i}`);
    watches.push(watch);
    iterators.push(iterator);
  }
  const tx = await client.transactionStart();
  await tx.write(`/killed/${name}/in-tx`, 'pending');
  const send = (): InFlight => {
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      pending.push(
        i % 2 === 0
          ? client.write(`/killed/${name}/n${i}`, String(i))
          : client.read(`/killed/${name}/n${i - 1}`),
      );
    }
    pending.push(tx.read(`/killed/${name}/in-tx`));
    for (const iterator of iterators) pending.push(iterator.next());
    return { client, watches, iterators, tx, pending };
  };
  return { client, send };
}

/** How the promises ended: codes counted, and anything that resolved or failed untyped. */
async function settleAll(pending: Promise<unknown>[]): Promise<Record<string, number>> {
  const results = await Promise.allSettled(pending);
  const counts: Record<string, number> = {};
  for (const result of results) {
    const key =
      result.status === 'fulfilled'
        ? 'resolved'
        : result.reason instanceof XenstoreError
          ? result.reason.code
          : `untyped ${String(result.reason)}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** Upper bound for everything to settle once the daemon is dead: a hang fails, not a figure. */
const SETTLE_BOUND_MS = 5_000;

function daemonKilledSuite(label: string, start: () => Promise<KillableDaemon>): void {
  it(`${label}: killed with ${REQUESTS} requests in flight, a transaction and ${WATCHES} watches; every promise settles, typed; reconnecting resumes on the same path`, async () => {
    const daemon = await start();
    try {
      const plainSetup = await prepare(daemon.socketPath, false, 'plain');
      const resilientSetup = await prepare(daemon.socketPath, true, 'resilient');
      const closed = new Promise<Error | undefined>((resolve) =>
        plainSetup.client.once('close', resolve),
      );
      const reconnected = new Promise<ReconnectInfo>((resolve) =>
        resilientSetup.client.once('reconnect', resolve),
      );

      // Frozen, the daemon reads nothing: what is sent now stays in flight.
      process.kill(daemon.pid, 'SIGSTOP');
      const [plain, resilient] = [plainSetup.send(), resilientSetup.send()];
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(plain.client.pendingRequests).toBe(REQUESTS + 1);
      const killedAt = performance.now();
      process.kill(daemon.pid, 'SIGKILL');
      // The watches' next() of the reconnecting client waits for the new connection's events.
      const [plainOutcome, resilientOutcome] = await Promise.all(
        [plain.pending, resilient.pending.slice(0, REQUESTS + 1)].map((pending) =>
          Promise.race([
            settleAll(pending),
            new Promise<never>((_, reject) =>
              setTimeout(() => reject(new Error('promises still pending')), SETTLE_BOUND_MS),
            ),
          ]),
        ),
      );
      const settledMs = performance.now() - killedAt;

      // Without reconnect: all of it fails with ECONNRESET, watches end with it, the client closes.
      expect(plainOutcome).toEqual({ ECONNRESET: REQUESTS + 1 + WATCHES });
      expect(await closed).toMatchObject({ code: 'ECONNRESET' });
      expect(plain.client.open).toBe(false);
      expect(plain.watches.every((watch) => !watch.active)).toBe(true);
      expect(plain.tx.active).toBe(false);
      // With reconnect: the requests in flight and the transaction's read fail with ECONNRESET.
      expect(resilientOutcome).toEqual({ ECONNRESET: REQUESTS + 1 });

      const restartAt = performance.now();
      await daemon.restart();
      const info = await reconnected;
      const resumedMs = performance.now() - restartAt;
      expect(info).toEqual({ lostTransactions: 1, watches: WATCHES });
      expect(resilient.tx.active).toBe(false);
      // Each watch fires its registration event anew, then follows changes on the new daemon.
      const registrations = await Promise.all(resilient.pending.slice(REQUESTS + 1));
      expect(
        registrations.map((r) => (r as IteratorResult<XenstoreWatchEvent>).value?.path),
      ).toEqual(resilient.watches.map((watch) => watch.path));
      await resilient.client.write('/killed/resilient/w1/after', 'back');
      expect((await resilient.iterators[1]!.next()).value?.path).toBe('/killed/resilient/w1/after');
      expect(await resilient.client.readString('/killed/resilient/w1/after')).toBe('back');
      await resilient.client.close();

      console.log(
        `${label} killed: ${REQUESTS} requests + a transaction read + ${WATCHES} watch iterators on each of 2 clients settled ` +
          `${settledMs.toFixed(1)} ms after SIGKILL (${JSON.stringify(plainOutcome)} without reconnect); ` +
          `with reconnect, resumed ${resumedMs.toFixed(0)} ms after the restart began (daemon start included)`,
      );
    } finally {
      await daemon.stop();
    }
  }, 60_000);
}

describe('a daemon killed under load', () => {
  daemonKilledSuite('the in-memory xenstored', inMemoryDaemon);
  if (xenInstall) daemonKilledSuite('the C xenstored', cDaemon);
});
