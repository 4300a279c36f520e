import { existsSync } from 'node:fs';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PAYLOAD_MAX } from '../../src/xenstore/constants.ts';
import { MessageType, messageTypeName } from '../../src/xenstore/messages.ts';
import { decodeReply } from '../../src/xenstore/replies.ts';
import { type Listener, socketListener, XenstoreServer } from '../../src/xenstore/server.ts';
import { type Message, writeHeader } from '../../src/xenstore/wire.ts';
import { GuestRingConnection } from '../support/guest-ring-connection.ts';
import { RawConnection } from '../support/raw-connection.ts';
import {
  type RealXenstored,
  startRealXenstored,
  type XenInstall,
} from '../support/real-xenstored.ts';
import { BOGUS_TX_ID, CONNECTIONS, type Script, type Step, stepMessage } from './script.ts';

/** Domains a script may introduce, and the event-channel port each is introduced with. */
export const GUEST_DOMIDS = [1, 2, 3] as const;
export const guestPort = (domid: number) => 100 + domid;

/** The guest domain the guest scripts connect as. */
export const GUEST_CONNECTION_DOMID = 1;

/** The subtrees scripts write to; reset removes them. */
export const SCRATCH_PATHS = ['/d', '/local/domain/0/r', '/local/domain/1'] as const;

/**
 * What each connection received because of one step: every message up to a barrier request sent
 * after the step (see {@link describeMessage}); `closed` when the server dropped the connection.
 */
export type StepObservation = (string[] | 'closed')[];

/** A connection to a server under test: a unix socket, or a guest's ring. */
export interface WireConnection {
  send(message: Message): void | Promise<void>;
  /** The next message received; rejects once the connection is closed. */
  next(): Promise<Message>;
  readonly closed: boolean;
  close(): void;
}

/** Who a script connection speaks for: dom0 over the socket, or an introduced guest domain. */
export type ConnectionKind = 'dom0' | { guest: number };

/** The connections of the random scripts: all dom0. */
export const DOM0_CONNECTIONS: readonly ConnectionKind[] = Array(CONNECTIONS).fill('dom0');

/** The dom0 connections plus one for guest {@link GUEST_CONNECTION_DOMID}. */
export const GUEST_CONNECTIONS: readonly ConnectionKind[] = [
  ...DOM0_CONNECTIONS,
  { guest: GUEST_CONNECTION_DOMID },
];

/** A server under differential test. */
export interface DifferentialTarget {
  readonly name: string;
  readonly socketPath: string;
  /** A connection speaking for guest `domid`, which must have been introduced. */
  openGuest(domid: number): Promise<WireConnection>;
  /** Called before a step is sent (the real daemon needs a page file for INTRODUCE). */
  beforeStep(step: Step): Promise<void>;
  /** Called with the step's reply. */
  afterStep(step: Step, reply: Message | undefined): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A reference server, which may itself fail on a script: its failures are findings of their own,
 * not divergences of the candidate.
 */
export interface ReferenceTarget extends DifferentialTarget {
  /**
   * Why the server can no longer serve: it exited, or a fresh connection got no answer within
   * `deadlineMs`. Undefined while it serves.
   */
  failure(deadlineMs: number): Promise<string | undefined>;
  /** Replaces the server with a freshly started one. */
  restart(): Promise<void>;
}

/**
 * The real C xenstored. Its hypervisor (the shim) says a guest exists while its page file does;
 * the in-memory server knows only introduced domains. So a page file exists exactly while its
 * domain is introduced, which makes the two agree on which domains exist.
 */
export async function realTarget(install: XenInstall): Promise<ReferenceTarget> {
  let daemon: RealXenstored;
  let waker: RawConnection;
  const introduced = new Set<number>();
  const start = async () => {
    daemon = await startRealXenstored(install);
    introduced.clear();
    // Any request on the socket makes the daemon run its loop, which services the rings too.
    // Opened up front: C's event order can depend on the order connections were opened in.
    waker = await RawConnection.open(daemon.socketPath);
  };
  await start();
  const page = (domid: number) => join(daemon.rundir, `dom${domid}.page`);
  const wake = async () => {
    await waker.exchange(barrier);
  };
  return {
    name: install.set === 'xen' ? 'C xenstored' : `C xenstored (${install.set})`,
    get socketPath() {
      return daemon.socketPath;
    },
    async openGuest(domid) {
      return new GuestRingConnection(page(domid), wake);
    },
    async beforeStep(step) {
      const domid = introduceDomid(step);
      if (domid !== undefined && !existsSync(page(domid))) await daemon.createGuest(domid, 0);
    },
    async afterStep(step, reply) {
      if (!('request' in step) || reply === undefined) return;
      const { request } = step;
      const ok = reply.type !== MessageType.ERROR;
      if (request.op === 'INTRODUCE' && ok) introduced.add(request.domid);
      if (request.op === 'RELEASE' && ok) introduced.delete(request.domid);
      if (request.op === 'INTRODUCE' || request.op === 'RELEASE') {
        const domid = request.domid;
        if (!introduced.has(domid) && existsSync(page(domid))) await unlink(page(domid));
      }
    },
    async failure(deadlineMs) {
      if (daemon.isRunning()) {
        const answered = await settleWithin(probe(daemon.socketPath), deadlineMs);
        if ('value' in answered) return undefined;
        const why =
          'error' in answered ? String(answered.error) : `nothing within ${deadlineMs} ms`;
        return `pid ${daemon.pid} runs but does not answer a new connection (${why})`;
      }
      // The daemon's messages do not always end their lines, so the tail is cut by length.
      const log = (await daemon.readLog()).trim();
      const tail = log.length > LOG_TAIL ? `...${log.slice(-LOG_TAIL)}` : log;
      return `pid ${daemon.pid} exited${tail ? `; its log ends: ${tail}` : ''}`;
    },
    async restart() {
      waker.close();
      await daemon.stop();
      await start();
    },
    async stop() {
      waker.close();
      await daemon.stop();
    },
  };
}

/** How much of a dead daemon's log a failure quotes. */
const LOG_TAIL = 200;

/** Opens a connection and waits for the answer to one request. */
async function probe(socketPath: string): Promise<void> {
  const conn = await RawConnection.open(socketPath);
  try {
    await conn.exchange(barrier);
  } finally {
    conn.close();
  }
}

/** How a piece of work ended, if it ended within the deadline. */
export type Settled<T> = { value: T } | { error: unknown } | { timedOut: true };

/**
 * Waits at most `ms` for `work`. The work is not cancelled; should it end later, its outcome is
 * dropped (a rejection included, so nothing goes unhandled).
 */
export async function settleWithin<T>(work: Promise<T>, ms: number): Promise<Settled<T>> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<Settled<T>>((resolve) => {
    timer = setTimeout(() => resolve({ timedOut: true }), ms);
  });
  const settled = work.then(
    (value): Settled<T> => ({ value }),
    (error: unknown): Settled<T> => ({ error }),
  );
  try {
    return await Promise.race([settled, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function introduceDomid(step: Step): number | undefined {
  return 'request' in step && step.request.op === 'INTRODUCE' ? step.request.domid : undefined;
}

/** The in-memory xenstored in 4.17 mode, on a unix socket in this process. */
export async function mockTarget(): Promise<DifferentialTarget> {
  const dir = await mkdtemp(join(tmpdir(), 'xenwire-diff-'));
  const server = new XenstoreServer({ version: '4.17' });
  const listener = await socketListener(server, { path: join(dir, 'socket') });
  const guestListeners = new Map<number, Listener>();
  return {
    name: 'in-memory xenstored',
    socketPath: listener.path,
    async openGuest(domid) {
      let guest = guestListeners.get(domid);
      if (!guest) {
        guest = await socketListener(server, { path: join(dir, `dom${domid}.sock`), domid });
        guestListeners.set(domid, guest);
      }
      return RawConnection.open(guest.path);
    },
    async beforeStep() {},
    async afterStep() {},
    async stop() {
      for (const guest of guestListeners.values()) await guest.close();
      await listener.close();
      server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const BARRIER_REQ_ID = 0xffff_fff0;
const barrier: Message = {
  type: MessageType.GET_DOMAIN_PATH,
  reqId: BARRIER_REQ_ID,
  txId: 0,
  payload: Buffer.from('0\0'),
};

/**
 * A message as exact, readable text: type name, header ids, payload as a JSON latin1 string.
 * DIRECTORY_PART generations are opaque to clients (only their equality matters), so each is
 * replaced by its order of first appearance in the script run, `gen#0`, `gen#1`, ...
 */
function describeMessage(message: Message, generations: Map<string, string>): string {
  let payload = Buffer.from(message.payload).toString('latin1');
  if (message.type === MessageType.DIRECTORY_PART) {
    const nul = payload.indexOf('\0');
    const generation = payload.slice(0, nul);
    if (!generations.has(generation)) generations.set(generation, `gen#${generations.size}`);
    payload = generations.get(generation)! + payload.slice(nul);
  }
  const type = messageTypeName(message.type) ?? String(message.type);
  return `${type} req=${message.reqId} tx=${message.txId} ${JSON.stringify(payload)}`;
}

/** Everything received before the barrier's reply. */
async function untilBarrier(conn: WireConnection, seen: Message[]): Promise<Message[] | 'closed'> {
  try {
    await conn.send(barrier);
    for (;;) {
      const message = await conn.next();
      if (message.reqId === BARRIER_REQ_ID && message.type === MessageType.GET_DOMAIN_PATH) {
        return seen;
      }
      seen.push(message);
    }
  } catch {
    return 'closed';
  }
}

function oversizeHeader(): Buffer {
  const header = Buffer.alloc(16);
  writeHeader(header, { type: MessageType.WRITE, reqId: 1, txId: 0, len: PAYLOAD_MAX + 1 });
  return header;
}

/**
 * Runs `script` on `target` from a clean state and returns what every connection received after
 * each step. Steps run one at a time and every connection is synchronised after each, so the
 * observation is deterministic for a deterministic server. Once `signal` is aborted no further
 * step starts (a script given up on must not reach the server that replaces a hung one).
 */
export async function runScript(
  target: DifferentialTarget,
  script: Script,
  kinds: readonly ConnectionKind[] = DOM0_CONNECTIONS,
  signal?: AbortSignal,
): Promise<StepObservation[]> {
  await resetTarget(target);
  // Opened on first use: a guest's connection can only exist once the script introduced it.
  const conns: (WireConnection | undefined)[] = kinds.map(() => undefined);
  const open = async (i: number): Promise<WireConnection> => {
    const kind = kinds[i]!;
    conns[i] ??= await (kind === 'dom0'
      ? RawConnection.open(target.socketPath)
      : target.openGuest(kind.guest));
    return conns[i]!;
  };
  const started: number[][] = kinds.map(() => []);
  const observations: StepObservation[] = [];
  const generations = new Map<string, string>();
  try {
    for (const [index, step] of script.entries()) {
      signal?.throwIfAborted();
      const conn = await open(step.conn);
      if ('oversize' in step) {
        if (!(conn instanceof RawConnection)) throw new Error('oversize needs a socket connection');
        conn.sendBytes(oversizeHeader());
        await conn.waitClosed();
        conns[step.conn] = undefined;
        started[step.conn] = [];
        observations.push(conns.map((_, i) => (i === step.conn ? 'closed' : [])));
        continue;
      }
      await target.beforeStep(step);
      const ids = started[step.conn]!;
      const txId =
        step.tx === 'none'
          ? 0
          : step.tx === 'bogus'
            ? BOGUS_TX_ID
            : ids.length === 0
              ? 0
              : ids[step.tx.started % ids.length]!;
      const message = stepMessage(step, index + 1, txId);
      if (!conn.closed) await conn.send(message);
      // The acting connection first: once its barrier is answered, the step's effects on every
      // other connection are queued ahead of their barriers.
      const received: (Message[] | 'closed')[] = [];
      received[step.conn] = await untilBarrier(conn, []);
      for (const [i, each] of conns.entries()) {
        if (i !== step.conn) received[i] = each ? await untilBarrier(each, []) : [];
      }
      observations.push(
        received.map((messages) =>
          messages === 'closed' ? messages : messages.map((m) => describeMessage(m, generations)),
        ),
      );
      const own = received[step.conn];
      const reply =
        own === 'closed' || own === undefined
          ? undefined
          : own.find((m) => m.type !== MessageType.WATCH_EVENT && m.reqId === index + 1);
      if (reply?.type === MessageType.TRANSACTION_START) {
        ids.push(decodeReply('TRANSACTION_START', reply));
      }
      if (message.type === MessageType.TRANSACTION_END && reply && !isInvalidError(reply)) {
        // The id is gone whatever the outcome, unless the request itself was malformed.
        const at = ids.indexOf(txId);
        if (at >= 0) ids.splice(at, 1);
      }
      await target.afterStep(step, reply);
    }
  } finally {
    for (const conn of conns) conn?.close();
  }
  return observations;
}

function isInvalidError(reply: Message): boolean {
  return (
    reply.type === MessageType.ERROR && Buffer.from(reply.payload).toString('latin1') === 'EINVAL\0'
  );
}

/** Brings a target back to its starting state: no guests, default permissions, no scratch nodes. */
async function resetTarget(target: DifferentialTarget): Promise<void> {
  const admin = await RawConnection.open(target.socketPath);
  const requests: Step[] = [
    ...GUEST_DOMIDS.map(
      (domid): Step => ({ conn: 0, tx: 'none', request: { op: 'RELEASE', domid } }),
    ),
    ...['/', '@introduceDomain', '@releaseDomain'].map(
      (path): Step => ({
        conn: 0,
        tx: 'none',
        request: { op: 'SET_PERMS', path, perms: [{ access: 'n', domid: 0 }] },
      }),
    ),
    ...SCRATCH_PATHS.map((path): Step => ({ conn: 0, tx: 'none', request: { op: 'RM', path } })),
  ];
  for (const step of requests) {
    if ('oversize' in step) continue;
    const { reply } = await admin.exchange(stepMessage(step, 1, 0));
    await target.afterStep(step, reply);
  }
  admin.close();
}
