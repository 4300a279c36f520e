import { PAYLOAD_MAX } from '../../xenstore/constants.ts';
import { MessageType, messageTypeName } from '../../xenstore/messages.ts';
import { decodeReply } from '../../xenstore/replies.ts';
import { type Message, writeHeader } from '../../xenstore/wire.ts';
import { RawConnection } from './raw-connection.ts';
import {
  BOGUS_TX_ID,
  CONNECTIONS,
  type Script,
  type Step,
  stepMessage,
  stepType,
} from './script.ts';

/** Domains a script may introduce, and the event-channel port each is introduced with. */
export const GUEST_DOMIDS = [1, 2, 3] as const;
export const guestPort = (domid: number) => 100 + domid;

/** The guest domain the fixed guest scripts connect as. */
export const GUEST_CONNECTION_DOMID = 1;

/** The guest domains the random guest scripts connect as, and release and introduce again. */
export const CONNECTED_GUEST_DOMIDS = [GUEST_CONNECTION_DOMID, 2] as const;

/**
 * The subtrees scripts write to; reset removes them. Removed last, so that the newest node is
 * the root, whose permissions reset has just made `n0`: C stamps a domain introduced next with
 * the newest node's generation (see the known differences), which must then grant it nothing.
 */
export const SCRATCH_PATHS = ['/d', '/local'] as const;

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

/** The dom0 connections plus one for each of {@link CONNECTED_GUEST_DOMIDS}. */
export const GUEST_CONNECTIONS: readonly ConnectionKind[] = [
  ...DOM0_CONNECTIONS,
  ...CONNECTED_GUEST_DOMIDS.map((guest) => ({ guest })),
];

/** A server under differential test. */
export interface DifferentialTarget {
  readonly name: string;
  readonly socketPath: string;
  /** A connection speaking for guest `domid`, which must have been introduced. */
  openGuest(domid: number): Promise<WireConnection>;
  /** Whether the server holds `domid` as introduced (asked outside the script's connections). */
  isIntroduced(domid: number): Promise<boolean>;
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
  /** False for a server that cannot be restarted: a crash is then reported unshrunk. */
  readonly restartable?: false;
}

/** Asks the server on `conn` whether `domid` is introduced (IS_DOMAIN_INTRODUCED). */
export async function askIntroduced(conn: RawConnection, domid: number): Promise<boolean> {
  const { reply } = await conn.exchange({
    type: MessageType.IS_DOMAIN_INTRODUCED,
    reqId: 0,
    txId: 0,
    payload: Buffer.from(`${domid}\0`),
  });
  return Buffer.from(reply.payload).toString('latin1') === 'T\0';
}

/** INTRODUCE or RELEASE when `step` sends one of them (well-formed or not), else undefined. */
export function changesDomains(step: Step): number | undefined {
  if ('oversize' in step) return undefined;
  const type = stepType(step);
  return type === MessageType.INTRODUCE || type === MessageType.RELEASE ? type : undefined;
}

/** Opens a connection and waits for the answer to one request. */
export async function probe(socketPath: string): Promise<void> {
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

const BARRIER_REQ_ID = 0xffff_fff0;
export const barrier: Message = {
  type: MessageType.GET_DOMAIN_PATH,
  reqId: BARRIER_REQ_ID,
  txId: 0,
  payload: Buffer.from('0\0'),
};

/**
 * A message as exact, readable text: type name, header ids, payload as a JSON latin1 string.
 * DIRECTORY_PART generations are opaque to clients (only their equality matters), so each is
 * replaced by its order of first appearance in the script run, `gen#0`, `gen#1`, ... The memory
 * figure of CONTROL `quota <domid>` is C's own allocation accounting, which no other server can
 * reproduce, so it is left out.
 */
function describeMessage(message: Message, generations: Map<string, string>): string {
  let payload = Buffer.from(message.payload).toString('latin1');
  if (message.type === MessageType.CONTROL && payload.startsWith('Domain ')) {
    payload = payload.replace(/^(memory +:) +\d+$/m, '$1 (bytes)');
  }
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
  // Guests introduced now, by this server's account: only their connections may be used.
  const present = new Set<number>();
  const absent = (i: number) => {
    const kind = kinds[i]!;
    return kind !== 'dom0' && !present.has(kind.guest);
  };
  try {
    for (const [index, step] of script.entries()) {
      signal?.throwIfAborted();
      if (absent(step.conn)) {
        observations.push(kinds.map((_, i) => (i === step.conn ? 'closed' : [])));
        continue;
      }
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
      if (changesDomains(step) !== undefined) {
        // A released guest's connection is gone (a ring nobody serves would never answer); it
        // is opened afresh once the guest is introduced again.
        for (const domid of new Set(
          kinds.flatMap((kind) => (kind === 'dom0' ? [] : [kind.guest])),
        )) {
          if (await target.isIntroduced(domid)) present.add(domid);
          else present.delete(domid);
        }
        for (const [i, each] of conns.entries()) {
          if (!each || !absent(i)) continue;
          each.close();
          conns[i] = undefined;
          started[i] = [];
          received[i] = 'closed';
        }
      }
      for (const [i, each] of conns.entries()) {
        received[i] ??= each ? await untilBarrier(each, []) : [];
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

/**
 * A server on a unix socket that the scripts reach as dom0 only: what `xenwire conformance --fuzz`
 * compares. It cannot be restarted, so a crash ends the run unshrunk.
 */
export function socketTarget(name: string, socketPath: string): ReferenceTarget {
  return {
    name,
    socketPath,
    restartable: false,
    async openGuest() {
      throw Object.assign(new Error('guest connections need a guest transport'), {
        code: 'ENOSYS',
      });
    },
    async isIntroduced(domid) {
      const conn = await RawConnection.open(socketPath);
      try {
        return await askIntroduced(conn, domid);
      } finally {
        conn.close();
      }
    },
    async beforeStep() {},
    async afterStep() {},
    async failure(deadlineMs) {
      const answered = await settleWithin(probe(socketPath), deadlineMs);
      if ('value' in answered) return undefined;
      return 'error' in answered
        ? `a new connection failed: ${(answered.error as Error).message ?? String(answered.error)}`
        : `a new connection got no answer within ${deadlineMs} ms`;
    },
    async restart() {},
    async stop() {},
  };
}

/** CONTROL commands setting every quota back to C 4.17's default. */
const QUOTA_DEFAULTS = [
  ...Object.entries({
    nodes: 1000,
    watches: 128,
    transactions: 10,
    outstanding: 20,
    'transaction-nodes': 1024,
    memory: 2621440,
    'node-size': 2048,
    'path-max': 2048,
    permissions: 5,
  }).map(([name, value]) => ['quota', 'set', name, String(value)]),
  ['quota-soft', 'set', 'memory', '2097152'],
];

/**
 * Brings a target back to its starting state: no guests, default permissions and quotas, no
 * scratch nodes.
 */
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
    ...QUOTA_DEFAULTS.map(
      (args): Step => ({ conn: 0, tx: 'none', request: { op: 'CONTROL', args } }),
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
