import type { FaultRecord } from '../xenstore/faults/injector.ts';
import type { FaultPlan } from '../xenstore/faults/plan.ts';
import { MessageType, messageTypeName } from '../xenstore/messages.ts';
import { toText } from '../xenstore/payload.ts';
import { formatPermission } from '../xenstore/permissions.ts';
import { decodeReply, decodeWatchEvent } from '../xenstore/replies.ts';
import { decodeRequest, type Request } from '../xenstore/requests.ts';
import type { Message } from '../xenstore/wire.ts';
import { jsonValue } from './json.ts';

/**
 * The proxy's trace: JSON lines, one record per event on a proxied connection. Message records
 * carry the exact bytes (`payload`, base64) for `replay`, and decoded fields for people and
 * scripts (`type`, `path`, `value`, `token`, `error`, …).
 */

/** Which way a message went. */
export type Direction = 'client-to-server' | 'server-to-client';

/** Fields decoded from a message; absent when they do not apply. */
export interface DecodedFields {
  /** The message type's name (`READ`, `WATCH_EVENT`, `ERROR`), or its number when unknown. */
  readonly type: string;
  readonly path?: string;
  readonly value?: string;
  readonly base64?: string;
  readonly token?: string;
  readonly children?: readonly string[];
  readonly perms?: readonly string[];
  /** The error name of an ERROR reply. */
  readonly error?: string;
  /** Other arguments, as text (domids, transaction ends, control arguments). */
  readonly args?: readonly string[];
  /** Why the payload could not be decoded, when it could not. */
  readonly malformed?: string;
}

/** One trace record. */
export type TraceRecord =
  | { readonly kind: 'open'; readonly seq: number; readonly time: string; readonly conn: number }
  | {
      readonly kind: 'close';
      readonly seq: number;
      readonly time: string;
      readonly conn: number;
      readonly bytes: ByteCounts;
    }
  | ({
      readonly kind: 'message';
      readonly seq: number;
      readonly time: string;
      readonly conn: number;
      readonly dir: Direction;
      readonly typeNumber: number;
      readonly reqId: number;
      readonly txId: number;
      /** The exact payload bytes, base64. */
      readonly payload: string;
    } & DecodedFields)
  | {
      /** Bytes that could not be framed (after a framing error), forwarded as they were. */
      readonly kind: 'raw';
      readonly seq: number;
      readonly time: string;
      readonly conn: number;
      readonly dir: Direction;
      readonly bytes: string;
    }
  | {
      /** The first record of a faulty proxy's trace: its faults, seed included. */
      readonly kind: 'faults';
      readonly seq: number;
      readonly time: string;
      readonly conn: 0;
      readonly plan: FaultPlan;
    }
  | ({
      /** A fault applied to connection `conn`. */
      readonly kind: 'fault';
      readonly seq: number;
      readonly time: string;
      readonly conn: number;
      /** For a fault on a request: the `seq` of that request's message record. */
      readonly message?: number;
    } & FaultRecord)
  | {
      readonly kind: 'error';
      readonly seq: number;
      readonly time: string;
      readonly conn: number;
      readonly dir?: Direction;
      readonly error: string;
    };

/** Bytes that crossed a proxied connection, each way, as received and as forwarded. */
export interface ByteCounts {
  readonly fromClient: number;
  readonly toServer: number;
  readonly fromServer: number;
  readonly toClient: number;
}

/** A message record's header fields and payload, back as a message. */
export function recordMessage(record: Extract<TraceRecord, { kind: 'message' }>): Message {
  return {
    type: record.typeNumber,
    reqId: record.reqId,
    txId: record.txId,
    payload: Buffer.from(record.payload, 'base64'),
  };
}

function typeName(type: number): string {
  return messageTypeName(type) ?? String(type);
}

function requestFields(request: Request): Omit<DecodedFields, 'type'> {
  switch (request.op) {
    case 'WRITE':
      return { path: request.path, ...jsonValue(request.value) };
    case 'SET_PERMS':
      return { path: request.path, perms: request.perms.map(formatPermission) };
    case 'WATCH':
    case 'UNWATCH':
      return { path: request.path, token: request.token };
    case 'DIRECTORY_PART':
      return { path: request.path, args: [String(request.offset)] };
    case 'TRANSACTION_END':
      return { args: [request.commit ? 'T' : 'F'] };
    case 'CONTROL':
      return { args: request.args.map((arg) => (typeof arg === 'string' ? arg : toText(arg))) };
    default: {
      if ('path' in request) return { path: request.path };
      const { op: _op, ...rest } = request;
      const args = Object.values(rest).map(String);
      return args.length > 0 ? { args } : {};
    }
  }
}

function replyFields(message: Message): Omit<DecodedFields, 'type'> {
  const name = messageTypeName(message.type);
  switch (name) {
    case 'READ':
      return jsonValue(decodeReply('READ', message));
    case 'DIRECTORY':
      return { children: decodeReply('DIRECTORY', message) };
    case 'DIRECTORY_PART': {
      const part = decodeReply('DIRECTORY_PART', message);
      return {
        children: part.children,
        args: [part.generation, part.complete ? 'complete' : 'partial'],
      };
    }
    case 'GET_PERMS':
      return { perms: decodeReply('GET_PERMS', message).map(formatPermission) };
    case 'TRANSACTION_START':
      return { args: [String(decodeReply('TRANSACTION_START', message))] };
    default:
      // Acknowledgements and CONTROL answers: text, without the terminating nul.
      return jsonValue(message.payload.subarray(0, message.payload.at(-1) === 0 ? -1 : undefined));
  }
}

/** Decodes what can be decoded; a malformed payload is described, never thrown. */
export function decodeFields(message: Message, dir: Direction): DecodedFields {
  const type = typeName(message.type);
  try {
    if (message.type === MessageType.ERROR) {
      return { type, error: toText(message.payload).replace(/\0$/, '') };
    }
    if (message.type === MessageType.WATCH_EVENT) {
      const event = decodeWatchEvent(message.payload);
      return { type, path: event.path, token: event.token };
    }
    return {
      type,
      ...(dir === 'client-to-server'
        ? requestFields(decodeRequest(message))
        : replyFields(message)),
    };
  } catch (error) {
    return { type, malformed: (error as Error).message };
  }
}

/** One readable log line for a record, e.g. `#3 → READ /local/domain/0/name tx 0 req 7`. */
export function formatLogLine(record: TraceRecord): string {
  const head = `${record.time} conn ${record.conn}`;
  switch (record.kind) {
    case 'open':
      return `${head} connected`;
    case 'close': {
      const b = record.bytes;
      return `${head} closed (client sent ${b.fromClient} bytes, server got ${b.toServer}; server sent ${b.fromServer}, client got ${b.toClient})`;
    }
    case 'raw':
      return `${head} ${record.dir === 'client-to-server' ? '→' : '←'} ${Buffer.from(record.bytes, 'base64').length} unframed bytes forwarded`;
    case 'error':
      return `${head} error: ${record.error}`;
    case 'faults':
      return `${record.time} faults seeded with ${record.plan.seed}: ${JSON.stringify(record.plan)}`;
    case 'fault': {
      const detail = [
        record.error,
        record.sent && `(${record.sent} sent)`,
        record.ms !== undefined && `${record.ms} ms`,
        record.chunks && `chunks ${record.chunks.join('+')}`,
        record.path,
      ].filter(Boolean);
      return `${head} fault ${record.fault} ${record.dir === 'client-to-server' ? '→' : '←'} ${record.type} req ${record.reqId} #${record.n}${detail.length > 0 ? ` ${detail.join(' ')}` : ''}`;
    }
    case 'message': {
      const arrow = record.dir === 'client-to-server' ? '→' : '←';
      const parts = [`${head} ${arrow} ${record.type}`];
      if (record.path !== undefined) parts.push(record.path);
      if (record.token !== undefined) parts.push(`token ${JSON.stringify(record.token)}`);
      if (record.value !== undefined) parts.push(JSON.stringify(record.value));
      if (record.base64 !== undefined) parts.push(`base64:${record.base64}`);
      if (record.children) parts.push(`[${record.children.join(', ')}]`);
      if (record.perms) parts.push(record.perms.join(','));
      if (record.error !== undefined) parts.push(record.error);
      if (record.args) parts.push(record.args.join(' '));
      if (record.malformed !== undefined) parts.push(`(malformed: ${record.malformed})`);
      parts.push(`req ${record.reqId} tx ${record.txId}`);
      return parts.join(' ');
    }
  }
}

/** A trace line that is not a record `replay` can use; `line` counts from 1. */
export class TraceSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
    this.name = 'TraceSyntaxError';
  }
}

const KINDS = new Set(['open', 'close', 'message', 'raw', 'error', 'faults', 'fault']);
const DIRECTIONS = new Set(['client-to-server', 'server-to-client']);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const isUint32 = (value: unknown): boolean =>
  Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 0xffffffff;

/** What is wrong with a parsed line as a trace record, or undefined when nothing is. */
function recordProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'not a trace record (a JSON object)';
  }
  const record = value as Record<string, unknown>;
  if (!KINDS.has(record.kind as string)) {
    return `"kind" is ${JSON.stringify(record.kind)}, not open, close, message, raw, error, faults or fault`;
  }
  if (!Number.isInteger(record.conn) || (record.conn as number) < 0) {
    return '"conn" is not a connection number';
  }
  if (record.kind === 'faults') return faultsProblem(record.plan);
  if (record.kind === 'fault') {
    if (typeof record.fault !== 'string') return '"fault" is not a fault name';
    if (record.message !== undefined && !Number.isInteger(record.message)) {
      return '"message" is not a record number';
    }
    return undefined;
  }
  if (record.kind !== 'message') return undefined;
  if (!DIRECTIONS.has(record.dir as string)) {
    return `"dir" is ${JSON.stringify(record.dir)}, not client-to-server or server-to-client`;
  }
  for (const field of ['typeNumber', 'reqId', 'txId']) {
    if (!isUint32(record[field])) return `"${field}" is not a 32-bit unsigned integer`;
  }
  if (typeof record.payload !== 'string' || !BASE64.test(record.payload)) {
    return '"payload" is not base64';
  }
  return undefined;
}

/** What is wrong with the plan of a `faults` record, which `proxy --faults-from` runs again. */
function faultsProblem(plan: unknown): string | undefined {
  if (typeof plan !== 'object' || plan === null || Array.isArray(plan)) {
    return '"plan" is not a fault plan (a JSON object)';
  }
  const { seed, inject } = plan as Record<string, unknown>;
  if (!isUint32(seed)) return '"plan.seed" is not a 32-bit unsigned integer';
  if (!Array.isArray(inject)) return '"plan.inject" is not a list of rules';
  return undefined;
}

/**
 * Parses a JSON-lines trace; blank lines are skipped. A line that is not JSON, or not a record
 * of a known kind with the fields `replay` needs, throws a {@link TraceSyntaxError} naming it.
 */
export function parseTrace(text: string): TraceRecord[] {
  const records: TraceRecord[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new TraceSyntaxError(index + 1, `not JSON (${(error as Error).message})`);
    }
    const problem = recordProblem(value);
    if (problem) throw new TraceSyntaxError(index + 1, problem);
    records.push(value as TraceRecord);
  });
  return records;
}
