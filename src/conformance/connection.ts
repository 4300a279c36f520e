import {
  decodeWatchEvent,
  encodeRequest,
  joinStrings,
  type Message,
  MessageType,
  messageTypeName,
  type Request,
  splitStrings,
  type Transport,
  type TransportConnector,
  toText,
} from '../xenstore/index.ts';
import { CheckFailure } from './check.ts';

/** A watch event as the checks compare them: `[path, token]`. */
export type EventPair = readonly [path: string, token: string];

/** The request id of the barrier that orders a connection's traffic (see `events`). */
const BARRIER_REQ_ID = 0xffff_fff0;

/**
 * One connection to the server under test, at the level of messages: whatever a check sends goes
 * out as it is (malformed frames included, through any transport), and every message the server
 * sends is seen in arrival order. Watch events arriving before a reply are kept until
 * {@link CheckConnection.events} takes them. Every wait is bounded: a reply that does not come
 * within the timeout fails the check instead of hanging the suite.
 */
export class CheckConnection {
  readonly #received: Message[] = [];
  readonly #events: EventPair[] = [];
  #transport: Transport | undefined;
  #wake: (() => void) | undefined;
  #closed: Error | undefined;
  #nextReqId = 1;

  private constructor(
    /** Who this connection speaks for, as failure messages name it (`dom0`, `dom3`). */
    readonly label: string,
    /** How long to wait for any one reply. */
    readonly timeoutMs: number,
  ) {}

  /** Opens a connection through `connector`. */
  static async open(
    connector: TransportConnector,
    label: string,
    timeoutMs: number,
  ): Promise<CheckConnection> {
    const conn = new CheckConnection(label, timeoutMs);
    conn.#transport = await connector({
      onMessage: (message) => {
        conn.#received.push(message);
        conn.#notify();
      },
      onClose: (reason) => {
        conn.#closed = reason ?? new Error('by the server');
        conn.#notify();
      },
    });
    return conn;
  }

  /** True once the server (or a framing failure) ended the connection. */
  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** A request id not used before on this connection. */
  nextReqId(): number {
    return this.#nextReqId++;
  }

  /** Sends one message as it is. */
  send(message: Message): void {
    this.#write(message);
  }

  /** Sends bytes as they are: part of a message, several messages, a lying header. */
  sendFrame(bytes: Uint8Array): void {
    this.#write({ type: 0, reqId: 0, txId: 0, payload: new Uint8Array(0), frame: bytes });
  }

  #write(message: Message & { frame?: Uint8Array }): void {
    if (this.#closed || !this.#transport) this.#fail('the connection is closed');
    try {
      this.#transport.send(message);
    } catch (error) {
      this.#fail(`sending failed: ${(error as Error).message}`);
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #fail(what: string): never {
    throw new CheckFailure(`${this.label}: ${what}`);
  }

  /** Waits for something to arrive; false if nothing did within `ms`. */
  async #arrival(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const arrived = await new Promise<boolean>((resolve) => {
      this.#wake = () => resolve(true);
      timer = setTimeout(() => resolve(false), ms);
    });
    clearTimeout(timer);
    this.#wake = undefined;
    return arrived;
  }

  /** The next message from the server, watch events included. */
  async next(waitingFor = 'a message'): Promise<Message> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const message = this.#received.shift();
      if (message) return message;
      if (this.#closed) {
        this.#fail(`closed (${this.#closed.message}) while waiting for ${waitingFor}`);
      }
      const left = deadline - Date.now();
      if (left <= 0 || !(await this.#arrival(left))) {
        this.#fail(`no ${waitingFor} within ${this.timeoutMs} ms`);
      }
    }
  }

  /** The next message that is not a watch event; the events before it are kept for `events`. */
  async reply(waitingFor = 'reply'): Promise<Message> {
    for (;;) {
      const message = await this.next(waitingFor);
      if (message.type !== MessageType.WATCH_EVENT) return message;
      this.#events.push(eventPair(message));
    }
  }

  /** Sends `message` and waits for its reply, which must echo its request id. */
  async exchange(message: Message): Promise<Message> {
    this.send(message);
    const name = messageTypeName(message.type) ?? `type ${message.type}`;
    const reply = await this.reply(`reply to ${name}`);
    if (reply.reqId !== message.reqId) {
      this.#fail(
        `reply ${describeMessage(reply)} has req_id ${reply.reqId}, sent ${message.reqId}`,
      );
    }
    return reply;
  }

  /** Sends a request (inside transaction `txId` when given) and waits for its reply. */
  request(request: Request, txId = 0): Promise<Message> {
    return this.exchange(encodeRequest(request, { reqId: this.nextReqId(), txId }));
  }

  /** Sends every request at once (inside `txId` when given); their replies, in order. */
  async pipeline(requests: readonly Request[], txId = 0): Promise<Message[]> {
    const messages = requests.map((request) =>
      encodeRequest(request, { reqId: this.nextReqId(), txId }),
    );
    for (const message of messages) this.send(message);
    const replies: Message[] = [];
    for (const message of messages) {
      const reply = await this.reply(`reply ${replies.length + 1} of ${messages.length}`);
      if (reply.reqId !== message.reqId) {
        this.#fail(
          `reply ${describeMessage(reply)} has req_id ${reply.reqId}, expected ${message.reqId}`,
        );
      }
      replies.push(reply);
    }
    return replies;
  }

  /** Sends a request of `type` with a payload given as latin1 text or bytes. */
  raw(type: number, payload: string | Uint8Array, txId = 0): Promise<Message> {
    return this.exchange(rawMessage(type, payload, this.nextReqId(), txId));
  }

  /** Sends `request` and requires success; returns the reply payload. */
  async ok(request: Request, txId = 0): Promise<Buffer> {
    return expectSuccess(await this.request(request, txId), request.op, this.label);
  }

  /** Sends `request` and requires the error `code`. */
  async fails(request: Request, code: string, txId = 0): Promise<void> {
    expectError(await this.request(request, txId), code, request.op, this.label);
  }

  /** As {@link ok}, for a raw payload. */
  async rawOk(type: number, payload: string | Uint8Array, txId = 0): Promise<Buffer> {
    const name = messageTypeName(type) ?? `type ${type}`;
    return expectSuccess(await this.raw(type, payload, txId), name, this.label);
  }

  /** As {@link fails}, for a raw payload. */
  async rawFails(type: number, payload: string | Uint8Array, code: string, txId = 0) {
    const name = messageTypeName(type) ?? `type ${type}`;
    expectError(await this.raw(type, payload, txId), code, name, this.label);
  }

  /** READ: the value as latin1 text. */
  async read(path: string, txId = 0): Promise<string> {
    return toText(await this.ok({ op: 'READ', path }, txId));
  }

  /** WRITE of `value` (text as latin1) that must succeed; a failure is a {@link CheckFailure}. */
  async write(path: string, value: string | Uint8Array = '', txId = 0): Promise<void> {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
    await this.ok({ op: 'WRITE', path, value: bytes }, txId);
  }

  /** MKDIR that must succeed. */
  async mkdir(path: string, txId = 0): Promise<void> {
    await this.ok({ op: 'MKDIR', path }, txId);
  }

  /** RM that must succeed. */
  async rm(path: string, txId = 0): Promise<void> {
    await this.ok({ op: 'RM', path }, txId);
  }

  /** DIRECTORY: the child names in the order the server lists them. */
  async directory(path: string, txId = 0): Promise<string[]> {
    return strings(await this.ok({ op: 'DIRECTORY', path }, txId), 'DIRECTORY');
  }

  /** GET_PERMS: the entries as sent (`n0`, `r5`). */
  async getPerms(path: string, txId = 0): Promise<string[]> {
    return strings(await this.ok({ op: 'GET_PERMS', path }, txId), 'GET_PERMS');
  }

  /** SET_PERMS with entries given as text, sent without local validation. */
  async setPerms(path: string, perms: readonly string[], txId = 0): Promise<void> {
    await this.rawOk(MessageType.SET_PERMS, joinStrings([path, ...perms]), txId);
  }

  /** SET_PERMS that must fail with `code`. */
  async setPermsFails(path: string, perms: readonly string[], code: string, txId = 0) {
    await this.rawFails(MessageType.SET_PERMS, joinStrings([path, ...perms]), code, txId);
  }

  /**
   * WATCH, then the registration event, which must name exactly `path` and `token` and come
   * before anything else this connection is sent.
   */
  async watch(path: string, token: string): Promise<void> {
    await this.ok({ op: 'WATCH', path, token });
    const events = await this.events();
    expectEqual(events, [[path, token]], `${this.label}: the events after WATCH`);
  }

  /** UNWATCH that must succeed. */
  async unwatch(path: string, token: string): Promise<void> {
    await this.ok({ op: 'UNWATCH', path, token });
  }

  /** TRANSACTION_START: the new transaction's id. */
  async start(): Promise<number> {
    const text = toText(await this.ok({ op: 'TRANSACTION_START' })).replace(/\0$/, '');
    if (!/^[1-9]\d*$/.test(text)) this.#fail(`TRANSACTION_START answered ${JSON.stringify(text)}`);
    return Number(text);
  }

  /** TRANSACTION_END: the reply, whatever it is. */
  end(txId: number, commit: boolean): Promise<Message> {
    return this.request({ op: 'TRANSACTION_END', commit }, txId);
  }

  /** TRANSACTION_END committing `txId`, which must succeed (an `EAGAIN` fails the check). */
  async commit(txId: number): Promise<void> {
    await this.ok({ op: 'TRANSACTION_END', commit: true }, txId);
  }

  /**
   * The watch events received since the last call, in order. A barrier request (answered after
   * everything the server sent this connection before it) makes the list complete: every event
   * caused by a request answered before this call is in it.
   */
  async events(): Promise<EventPair[]> {
    const barrier = rawMessage(MessageType.GET_DOMAIN_PATH, '0\0', BARRIER_REQ_ID, 0);
    this.send(barrier);
    for (;;) {
      const message = await this.next('reply to the barrier');
      if (message.type === MessageType.WATCH_EVENT) {
        this.#events.push(eventPair(message));
      } else if (message.reqId === BARRIER_REQ_ID) {
        return this.#events.splice(0);
      } else {
        this.#fail(`unexpected ${describeMessage(message)} before the barrier's reply`);
      }
    }
  }

  /**
   * The events received until there are `count` of them, for changes the server makes on its own
   * time (a domain's death is noticed when the hypervisor's interrupt is handled, not in answer
   * to a request). Gives up after the reply timeout with what has arrived.
   */
  async eventsWithin(count: number): Promise<EventPair[]> {
    const deadline = Date.now() + this.timeoutMs;
    const seen: EventPair[] = [];
    for (;;) {
      seen.push(...(await this.events()));
      if (seen.length >= count || Date.now() >= deadline) return seen;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Requires exactly these events (in this order) since the last `events`. */
  async expectEvents(expected: readonly EventPair[], what = 'the watch events'): Promise<void> {
    expectEqual(await this.events(), expected, `${this.label}: ${what}`);
  }

  /** True if the server closes the connection within `ms` (nothing else may arrive). */
  async closesWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.#closed) {
      const message = this.#received.shift();
      if (message) this.#fail(`expected the connection to close, got ${describeMessage(message)}`);
      const left = deadline - Date.now();
      if (left <= 0 || !(await this.#arrival(left))) return this.closed;
    }
    return true;
  }

  /** Closes the socket; the check's context also closes every connection it opened. */
  close(): void {
    this.#transport?.close();
  }
}

/** A message with a latin1-text or byte payload. */
export function rawMessage(
  type: number,
  payload: string | Uint8Array,
  reqId: number,
  txId: number,
): Message {
  return {
    type,
    reqId,
    txId,
    payload: typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload,
  };
}

function eventPair(message: Message): EventPair {
  const { path, token } = decodeWatchEvent(message.payload);
  return [path, token];
}

function strings(payload: Buffer, op: string): string[] {
  const list = splitStrings(payload);
  if (list === undefined) throw new CheckFailure(`${op} reply is not nul-terminated strings`);
  return list;
}

/** A message as readable text: `ERROR "ENOENT"`, `READ "value"` (payload cut at 80 bytes). */
export function describeMessage(message: Message): string {
  const name = messageTypeName(message.type) ?? `type ${message.type}`;
  const text = toText(message.payload.subarray(0, 80));
  return `${name} ${JSON.stringify(text)}${message.payload.length > 80 ? '…' : ''}`;
}

/** Requires a reply of the request's own type; returns its payload. */
export function expectSuccess(reply: Message, op: string, who: string): Buffer {
  const type = (MessageType as Record<string, number>)[op];
  if (reply.type !== type) {
    throw new CheckFailure(`${who}: ${op} expected success, got ${describeMessage(reply)}`);
  }
  return Buffer.from(reply.payload);
}

/** Requires an ERROR reply naming `code`. */
export function expectError(reply: Message, code: string, op: string, who: string): void {
  const payload = toText(reply.payload);
  if (reply.type !== MessageType.ERROR || payload !== `${code}\0`) {
    throw new CheckFailure(`${who}: ${op} expected ${code}, got ${describeMessage(reply)}`);
  }
}

/** Requires `actual` to equal `expected` (compared as JSON). */
export function expectEqual(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new CheckFailure(`${what}: expected ${e}, got ${a}`);
}
