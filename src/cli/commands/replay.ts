import { readFile } from 'node:fs/promises';
import { MessageType } from '../../xenstore/messages.ts';
import { toText } from '../../xenstore/payload.ts';
import type { WatchEvent } from '../../xenstore/replies.ts';
import type { Message } from '../../xenstore/wire.ts';
import type { Command } from '../command.ts';
import { type CliIo, Diagnostics, USAGE_ERROR, wantsJson } from '../io.ts';
import { Progress } from '../progress.ts';
import { daemonSocketPath, errorCode } from '../target.ts';
import { parseToolArgs } from '../tool-args.ts';
import {
  decodeFields,
  parseTrace,
  recordMessage,
  type TraceRecord,
  TraceSyntaxError,
} from '../trace.ts';
import { WireSession } from '../wire-session.ts';

const options = {
  to: { type: 'string' },
  timeout: { type: 'string', default: '2000' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = `Usage: xenwire replay TRACE.jsonl [--to PATH] [--timeout MS]

Replays a trace written by \`xenwire proxy --trace\` against the xenstored at --to (default: as
the drop-in commands find it): one connection per recorded connection, opened and closed in the
recorded order, each request sent as recorded and answered before the next is sent. Prints every
reply that differs from the recorded one and every watch whose events differ, then a summary
line "N requests, M differences". Exit status 1 when anything differs, 2 when the trace cannot be
read, is empty, holds no request or has a line that is not a trace record (named by number).

Transaction ids are mapped: a replayed TRANSACTION_START may get another id, and later requests
of that transaction use it. Watch events are compared per connection and token, in order;
DIRECTORY_PART replies without their generation counts, which are the server's own.

A trace of a faulty proxy replays what reached the server: requests the proxy answered with an
injected error, or dropped, are not sent; an injected failure of a commit is sent as the abort
the proxy sent in its place.
`;

type MessageRecord = Extract<TraceRecord, { kind: 'message' }>;

// Sent after a connection's last request: its reply comes after every event queued before it.
const BARRIER_REQ_ID = 0xfffffff0;
const barrier: Message = {
  type: MessageType.GET_DOMAIN_PATH,
  reqId: BARRIER_REQ_ID,
  txId: 0,
  payload: Buffer.from('0\0'),
};

/** The recorded side of one connection, and its replayed counterpart. */
class ReplayedConnection {
  /** Recorded replies still to be compared, in order (xenstored answers in order). */
  readonly recordedReplies: Message[] = [];
  readonly recordedEvents: WatchEvent[] = [];
  readonly replayedEvents: WatchEvent[] = [];
  /** Recorded transaction id → the id the replay got. */
  readonly transactions = new Map<number, number>();
  session: WireSession | undefined;
  requests = 0;
  closed = false;

  constructor(readonly id: number) {}

  /** Moves the events the replayed connection has received so far into `replayedEvents`. */
  collectEvents(): void {
    if (this.session) this.replayedEvents.push(...this.session.takeWatchEvents());
  }
}

function describe(message: Message | undefined): string {
  if (!message) return 'no reply';
  const fields = decodeFields(message, 'server-to-client');
  const detail =
    fields.error ??
    (fields.value !== undefined ? JSON.stringify(fields.value) : undefined) ??
    (fields.children ? `[${fields.children.join(', ')}]` : undefined) ??
    fields.perms?.join(',') ??
    (fields.base64 !== undefined ? `base64:${fields.base64}` : undefined) ??
    fields.args?.join(' ');
  return detail === undefined ? fields.type : `${fields.type} ${detail}`;
}

/** Whether a replayed reply matches the recorded one, allowing for server-chosen numbers. */
function sameReply(recorded: Message | undefined, replayed: Message | undefined): boolean {
  if (!recorded || !replayed) return recorded === replayed;
  if (recorded.type !== replayed.type) return false;
  if (recorded.type === MessageType.TRANSACTION_START) return true;
  if (recorded.type === MessageType.DIRECTORY_PART) {
    const withoutGeneration = (m: Message) =>
      Buffer.from(m.payload.subarray(m.payload.indexOf(0) + 1));
    return withoutGeneration(recorded).equals(withoutGeneration(replayed));
  }
  return Buffer.from(recorded.payload).equals(Buffer.from(replayed.payload));
}

function eventsByToken(events: readonly WatchEvent[]): Map<string, string[]> {
  const byToken = new Map<string, string[]>();
  for (const event of events)
    byToken.set(event.token, [...(byToken.get(event.token) ?? []), event.path]);
  return byToken;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise.catch(() => undefined), timeout]).finally(() => clearTimeout(timer));
}

/** `xenwire replay`: replays a proxy trace and reports where the server answers differently. */
async function runReplay(args: readonly string[], io: CliIo): Promise<number> {
  const diag = new Diagnostics(io, 'xenwire replay', wantsJson(args));
  const { values, positionals } = parseToolArgs(args, options, usage, io, diag, true);
  if (positionals.length !== 1)
    return diag.errx(`one trace file is required\n${usage}`, USAGE_ERROR, 2);
  const timeoutMs = Number(values.timeout);
  const target = values.to ?? daemonSocketPath(io.env);
  const file = positionals[0]!;
  let records: TraceRecord[];
  try {
    records = parseTrace(await readFile(file, 'utf8'));
  } catch (error) {
    if (error instanceof TraceSyntaxError) {
      return diag.errx(
        `${file}:${error.line}: ${error.message}`,
        { code: 'EINVAL', path: file },
        2,
      );
    }
    const code = errorCode(error);
    return diag.errx(`cannot read trace: ${(error as Error).message}`, { code, path: file }, 2);
  }
  if (!records.some((r) => r.kind === 'message' && r.dir === 'client-to-server')) {
    const what = records.length === 0 ? 'is empty' : 'holds no request';
    return diag.errx(
      `${file}: the trace ${what}: nothing to replay (record one with xenwire proxy --trace)`,
      { code: 'EINVAL', path: file },
      2,
    );
  }

  const connections = new Map<number, ReplayedConnection>();
  const connection = (id: number) => {
    let found = connections.get(id);
    if (!found) {
      found = new ReplayedConnection(id);
      connections.set(id, found);
    }
    return found;
  };
  for (const record of records) {
    if (record.kind !== 'message' || record.dir !== 'server-to-client') continue;
    const message = recordMessage(record);
    if (message.type === MessageType.WATCH_EVENT) {
      const fields = decodeFields(message, record.dir);
      connection(record.conn).recordedEvents.push({
        path: fields.path ?? '',
        token: fields.token ?? '',
      });
    } else {
      connection(record.conn).recordedReplies.push(message);
    }
  }

  // Requests a faulty proxy answered itself, or closed the connection on: they never reached the
  // server, or reached it as an abort, and are replayed so.
  const requestFaults = new Map<number, Extract<TraceRecord, { kind: 'fault' }>>();
  for (const record of records) {
    if (record.kind === 'fault' && record.message !== undefined) {
      requestFaults.set(record.message, record);
    }
  }

  const progress = new Progress(io, 'requests');
  let requests = 0;
  let differences = 0;
  const report = (line: string) => {
    differences++;
    io.stdout.write(`${line}\n`);
  };
  const open = async (replayed: ReplayedConnection): Promise<WireSession> => {
    if (replayed.session) return replayed.session;
    try {
      replayed.session = await WireSession.connect(target);
    } catch (error) {
      const message = `cannot connect to ${target}: ${(error as Error).message}`;
      return diag.errx(message, { code: errorCode(error), path: target });
    }
    return replayed.session;
  };
  const finish = async (replayed: ReplayedConnection) => {
    if (replayed.closed) return;
    replayed.closed = true;
    if (replayed.session) {
      await withTimeout(replayed.session.exchange(barrier), timeoutMs);
      replayed.collectEvents();
      replayed.session.close();
    }
    const recorded = eventsByToken(replayed.recordedEvents);
    const replayedEvents = eventsByToken(replayed.replayedEvents);
    for (const token of new Set([...recorded.keys(), ...replayedEvents.keys()])) {
      const want = recorded.get(token) ?? [];
      const got = replayedEvents.get(token) ?? [];
      if (want.join('\0') !== got.join('\0')) {
        report(
          `conn ${replayed.id} watch ${JSON.stringify(token)}: recorded events [${want.join(', ')}], replayed [${got.join(', ')}]`,
        );
      }
    }
  };

  for (const record of records) {
    if (record.kind === 'open') await open(connection(record.conn));
    if (record.kind === 'close') await finish(connection(record.conn));
    if (record.kind !== 'message' || record.dir !== 'client-to-server') continue;
    const fault = requestFaults.get(record.seq);
    if (fault && fault.sent !== 'abort' && fault.fault !== 'reset') continue;
    const replayed = connection(record.conn);
    const session = await open(replayed);
    const sent = recordMessage(record as MessageRecord);
    const message = fault?.sent === 'abort' ? { ...sent, payload: Buffer.from('F\0') } : sent;
    const txId = message.txId === 0 ? 0 : (replayed.transactions.get(message.txId) ?? message.txId);
    const reply = await withTimeout(session.exchange({ ...message, txId }), timeoutMs);
    replayed.collectEvents();
    const recorded = replayed.recordedReplies.shift();
    requests++;
    replayed.requests++;
    progress.tick();
    if (
      recorded?.type === MessageType.TRANSACTION_START &&
      reply?.type === MessageType.TRANSACTION_START
    ) {
      replayed.transactions.set(
        Number.parseInt(toText(recorded.payload), 10),
        Number.parseInt(toText(reply.payload), 10),
      );
    }
    if (!sameReply(recorded, reply)) {
      const fields = decodeFields(message, 'client-to-server');
      const what = [fields.type, fields.path].filter((part) => part !== undefined).join(' ');
      report(
        `conn ${replayed.id} request ${replayed.requests} ${what}: recorded ${describe(recorded)}, replayed ${describe(reply)}`,
      );
    }
  }
  for (const replayed of connections.values()) await finish(replayed);
  progress.done();
  io.stdout.write(`${requests} requests, ${differences} differences\n`);
  return differences > 0 ? 1 : 0;
}

export const command: Command = { run: runReplay };
