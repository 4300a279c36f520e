import { HEADER_SIZE, PAYLOAD_MAX } from '../constants.ts';
import { MessageType } from '../messages.ts';
import { domainPath } from '../paths.ts';
import { joinByteStrings } from '../payload.ts';
import type { XenstoreConnection } from '../transport/transport.ts';
import type { Message } from '../wire.ts';
import { OnDemandMap } from './on-demand-map.ts';
import type { RequestScope } from './scope.ts';
import type { Watch, WatchSubscriber } from './watches.ts';

/** What a connection needs from its server. */
export interface ConnectionHost {
  request(conn: ServerConnection, message: Message): void;
  disconnect(conn: ServerConnection, reason?: Error): void;
  /** Marks a connection as having output to deliver. */
  pending(conn: ServerConnection): void;
  /** The domain `domid` controls, if SET_TARGET made it a controller. */
  targetOf(domid: number): number | undefined;
  /** See `Identity.honours`. */
  honours(domid: number, generation: number): boolean;
  /** The memory quota of `domid`, in bytes. */
  memoryQuota(domid: number): number;
}

/**
 * The server's state for one connection. What most connections never use (a transaction or
 * watch table, the set of events of a request) is made on first use and dropped when empty: a
 * host of a thousand quiet guests holds a thousand connections.
 */
export class ServerConnection implements XenstoreConnection, WatchSubscriber {
  /** Open transactions by id, each with the scope its requests run in. */
  readonly transactions = new OnDemandMap<number, RequestScope>();
  /** The scope of this connection's requests outside transactions (set by the server). */
  scope!: RequestScope;
  /** Watches by `path\0token` (path absolute). */
  readonly watches = new OnDemandMap<string, Watch>();
  /** The prefix relative paths resolve against, with a trailing slash. */
  readonly home: string;
  /** Messages waiting for delivery. */
  outbox: Message[] = [];
  /** This request's events so far (by `path\0token`), special ones excepted; made on demand. */
  #queuedEvents: Set<string> | undefined;
  closed = false;
  #nextTransactionId = 1;
  /** Requests received and not served yet (fair connections only), oldest at `#inboxHead`. */
  #inbox: Message[] = [];
  #inboxHead = 0;
  /** The scheduler's turn in which this connection was last served. */
  servedTurn = -1;

  constructor(
    readonly id: number,
    readonly domid: number,
    readonly privileged: boolean,
    readonly onMessage: (message: Message) => void,
    readonly onClose: ((reason?: Error) => void) | undefined,
    readonly host: ConnectionHost,
    readonly backlog?: () => number,
    /** Served one request per turn among the other fair connections (see `ConnectOptions.fair`). */
    readonly fair = false,
    readonly onDrained?: () => void,
  ) {
    this.home = `${domainPath(domid)}/`;
  }

  /** Requests received and not served yet. */
  get queued(): number {
    return this.#inbox.length - this.#inboxHead;
  }

  /** Holds a request until its turn. */
  enqueue(message: Message): void {
    this.#inbox.push(message);
  }

  /** The oldest request not served yet. */
  dequeue(): Message | undefined {
    const message = this.#inbox[this.#inboxHead];
    if (message === undefined) return undefined;
    this.#inbox[this.#inboxHead++] = undefined as unknown as Message;
    if (this.#inboxHead === this.#inbox.length) {
      this.#inbox = [];
      this.#inboxHead = 0;
    }
    return message;
  }

  /** Forgets the requests not served yet (the connection is gone). */
  dropInbox(): void {
    this.#inbox = [];
    this.#inboxHead = 0;
  }

  get target(): number | undefined {
    return this.host.targetOf(this.domid);
  }

  honours(domid: number, generation: number): boolean {
    return this.host.honours(domid, generation);
  }

  send(message: Message): void {
    if (this.closed) return;
    this.host.request(this, message);
  }

  close(): void {
    if (!this.closed) this.host.disconnect(this);
  }

  queueEvent(path: string, token: string): void {
    // C drops an event identical to one still waiting in the connection's output queue, special
    // events excepted. Output is handed on after every request, so only this request's events are
    // compared (as before C's queue is written out).
    const key = `${path}\0${token}`;
    const special = path.charCodeAt(0) === 0x40;
    if (!special && this.#queuedEvents?.has(key)) return;
    // Tokens and `@` paths are the bytes the client sent, whatever they are.
    const payload = joinByteStrings([path, token]);
    // An event that cannot be framed is dropped rather than breaking the client's stream.
    if (payload.length > PAYLOAD_MAX) return;
    if (this.#overQuota(HEADER_SIZE + payload.length)) return;
    if (!special) {
      this.#queuedEvents ??= new Set();
      this.#queuedEvents.add(key);
    }
    this.outbox.push({ type: MessageType.WATCH_EVENT, reqId: 0, txId: 0, payload });
    this.host.pending(this);
  }

  // C's send_event checks the domain's memory quota; only the output waiting for the peer is
  // counted here, which is what grows when a guest stops reading.
  #overQuota(bytes: number): boolean {
    if (this.privileged || this.backlog === undefined) return false;
    let waiting = this.backlog() + bytes;
    for (const message of this.outbox) waiting += HEADER_SIZE + message.payload.length;
    return waiting > this.host.memoryQuota(this.domid);
  }

  /**
   * Takes up to `limit` queued messages for delivery, oldest first. Events queued from now on are
   * not compared with those still held: C's duplicate check covers the output of one request.
   */
  takeOutput(limit = Number.POSITIVE_INFINITY): Message[] {
    this.#queuedEvents = undefined;
    if (this.outbox.length <= limit) {
      const out = this.outbox;
      this.outbox = [];
      return out;
    }
    return this.outbox.splice(0, limit);
  }

  /** Queues a reply. */
  queueReply(message: Message): void {
    this.outbox.push(message);
    this.host.pending(this);
  }

  /** A fresh transaction id: non-zero and not in use on this connection. */
  nextTransactionId(): number {
    let id = this.#nextTransactionId;
    while (id === 0 || this.transactions.has(id)) id = (id + 1) >>> 0;
    this.#nextTransactionId = (id + 1) >>> 0;
    return id;
  }
}
