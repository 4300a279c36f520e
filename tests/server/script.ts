import { expect } from 'vitest';
import { MessageType, messageTypeName } from '../../src/xenstore/messages.ts';
import { decodeWatchEvent } from '../../src/xenstore/replies.ts';
import type { ServerOptions } from '../../src/xenstore/server.ts';
import { XenstoreServer } from '../../src/xenstore/server.ts';
import type { Message } from '../../src/xenstore/wire.ts';

/**
 * A tiny language for protocol scenarios, one step per line:
 *
 *   `<conn> <op>[@tx] <args…> -> <expected reply>`  a request and its rendered reply
 *   `<conn> events -> <path> <token>; …`           the events the connection got since last asked
 *
 * Replies render as: error names (`ENOENT`), `OK`, READ values as text, lists joined with `,`,
 * and raw payloads with `|` for each nul. `<conn>` names one of the scenario's connections.
 */

const opTypes: Record<string, number> = {
  read: MessageType.READ,
  write: MessageType.WRITE,
  mkdir: MessageType.MKDIR,
  rm: MessageType.RM,
  dir: MessageType.DIRECTORY,
  part: MessageType.DIRECTORY_PART,
  perms: MessageType.GET_PERMS,
  setperms: MessageType.SET_PERMS,
  watch: MessageType.WATCH,
  unwatch: MessageType.UNWATCH,
  start: MessageType.TRANSACTION_START,
  commit: MessageType.TRANSACTION_END,
  abort: MessageType.TRANSACTION_END,
  introduce: MessageType.INTRODUCE,
  release: MessageType.RELEASE,
  resume: MessageType.RESUME,
  settarget: MessageType.SET_TARGET,
  isintro: MessageType.IS_DOMAIN_INTRODUCED,
  domainpath: MessageType.GET_DOMAIN_PATH,
  reset: MessageType.RESET_WATCHES,
  control: MessageType.CONTROL,
  getfeature: MessageType.GET_FEATURE,
  setfeature: MessageType.SET_FEATURE,
  getquota: MessageType.GET_QUOTA,
  setquota: MessageType.SET_QUOTA,
};

/** A connection that records what it receives, in order. */
export class Recorder {
  readonly received: Message[] = [];
  #seen = 0;
  closedWith: Error | undefined | 'open' = 'open';
  readonly conn;

  constructor(server: XenstoreServer, domid: number) {
    this.conn = server.connect({
      domid,
      onMessage: (m) => this.received.push(m),
      onClose: (reason) => {
        this.closedWith = reason;
      },
    });
  }

  /** Sends and returns the reply (the last non-event message received). */
  request(type: number, payload: Uint8Array, txId = 0, reqId = 42): Message {
    const before = this.received.length;
    this.conn.send({ type, reqId, txId, payload });
    const reply = this.received
      .slice(before)
      .reverse()
      .find((m) => m.type !== MessageType.WATCH_EVENT);
    if (!reply) throw new Error('no reply');
    return reply;
  }

  /** Events received since the last call, as `path token`. */
  events(): string[] {
    const fresh = this.received.slice(this.#seen);
    this.#seen = this.received.length;
    return fresh
      .filter((m) => m.type === MessageType.WATCH_EVENT)
      .map((m) => {
        const event = decodeWatchEvent(m.payload);
        return `${event.path} ${event.token}`;
      });
  }
}

/** The payload of a scripted request. */
export function scriptPayload(op: string, args: string[]): Buffer {
  if (op === 'write') return Buffer.from(`${args[0]}\0${args.slice(1).join(' ')}`, 'latin1');
  if (op === 'commit') return Buffer.from('T\0');
  if (op === 'abort') return Buffer.from('F\0');
  if (op === 'reset' || (op.startsWith('get') && args.length === 0)) return Buffer.alloc(0);
  if (op === 'start') return Buffer.from('\0');
  return Buffer.from(args.map((a) => `${a === '""' ? '' : a}\0`).join(''), 'latin1');
}

/** Renders a reply the way scenarios write expectations. */
export function renderReply(reply: Message): string {
  const text = Buffer.from(reply.payload).toString('latin1');
  if (reply.type === MessageType.ERROR) return text.replace(/\0$/, '');
  switch (messageTypeName(reply.type)) {
    case 'READ':
      return text;
    case 'DIRECTORY':
    case 'GET_PERMS':
    case 'GET_QUOTA':
      return text.replace(/\0$/, '').split('\0').join(',');
    case 'DIRECTORY_PART':
      return text.replaceAll('\0', '|');
    default:
      return text.replace(/\0$/, '');
  }
}

/** Runs a scenario, checking each step. */
export function runScript(
  lines: readonly string[],
  conns: Record<string, number> = { c: 0 },
  options: ServerOptions = {},
): XenstoreServer {
  const server = new XenstoreServer(options);
  const recorders = new Map<string, Recorder>();
  for (const [name, domid] of Object.entries(conns)) {
    recorders.set(name, new Recorder(server, domid));
  }
  for (const line of lines) {
    const [left, expected = ''] = line.split(/ ->(?: |$)/) as [string, string?];
    const [who, opWithTx, ...args] = left.trim().split(/\s+/) as [string, string, ...string[]];
    const recorder = recorders.get(who);
    if (!recorder) throw new Error(`unknown connection in ${line}`);
    if (opWithTx === 'events') {
      const got = recorder.events().join('; ');
      expect(got, line).toBe(expected);
      continue;
    }
    const [op, tx] = opWithTx.split('@') as [string, string?];
    const type = op === 'raw' ? Number(args.shift()) : opTypes[op];
    if (type === undefined) throw new Error(`unknown op in ${line}`);
    const payload =
      op === 'raw'
        ? Buffer.from((args[0] ?? '').replaceAll('|', '\0'), 'latin1')
        : scriptPayload(op, args);
    const reply = recorder.request(type, payload, Number(tx ?? 0));
    expect(renderReply(reply), line).toBe(expected);
  }
  return server;
}
