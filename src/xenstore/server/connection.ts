import { HEADER_SIZE, MessageType, PAYLOAD_MAX } from '../constants.ts';
import { XenstoreError } from '../errors.ts';
import { MessageFramer } from '../framer.ts';
import { domainPath } from '../paths.ts';
import { joinByteStrings } from '../payload.ts';
import type { Message } from '../wire.ts';
import type { RequestScope } from './scope.ts';
import type { Watch, WatchSubscriber } from './watches.ts';

/** How a client attaches to the server in-process. */
export interface ConnectOptions {
  /** The domain the connection speaks for; 0 (privileged) unless given. */
  readonly domid?: number;
  /** Receives every reply and watch event, in order. */
  readonly onMessage: (message: Message) => void;
  /** Called once when the connection ends, with the reason if it was not closed by `close()`. */
  readonly onClose?: (reason?: Error) => void;
  /**
   * Bytes handed to `onMessage` that the peer has not taken yet (a socket's unsent bytes, a
   * ring's queued output). An unprivileged connection whose backlog would exceed its domain's
   * memory quota loses further watch events, as C xenstored drops them, so a guest that never
   * reads cannot make the server queue without bound. Without it nothing is dropped.
   */
  readonly backlog?: () => number;
}

/**
 * One client's end of the server. Replies and events are delivered synchronously and in order
 * through `onMessage`, but never re-entrantly: a `send` made from inside `onMessage` is queued and
 * answered once the current delivery returns, still before the outermost `send` returns.
 */
export interface XenstoreConnection {
  /** Server-wide connection number (trace records name it). */
  readonly id: number;
  readonly domid: number;
  /** Sends one request. */
  send(message: Message): void;
  /**
   * Feeds raw protocol bytes (any chunking). A header announcing a payload over 4096 bytes closes
   * this connection, with an EPROTO reason, as C xenstored drops such a client.
   */
  receiveBytes(chunk: Uint8Array): void;
  /** Ends the connection: its watches and open transactions are discarded. */
  close(): void;
}

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

/** The server's state for one connection. */
export class ServerConnection implements XenstoreConnection, WatchSubscriber {
  /** Open transactions by id, each with the scope its requests run in. */
  readonly transactions = new Map<number, RequestScope>();
  /** The scope of this connection's requests outside transactions (set by the server). */
  scope!: RequestScope;
  /** Watches by `path\0token` (path absolute). */
  readonly watches = new Map<string, Watch>();
  /** The prefix relative paths resolve against, with a trailing slash. */
  readonly home: string;
  /** Messages waiting for delivery. */
  outbox: Message[] = [];
  readonly #queuedEvents = new Set<string>();
  closed = false;
  #nextTransactionId = 1;
  #framer: MessageFramer | undefined;

  constructor(
    readonly id: number,
    readonly domid: number,
    readonly privileged: boolean,
    readonly onMessage: (message: Message) => void,
    readonly onClose: ((reason?: Error) => void) | undefined,
    readonly host: ConnectionHost,
    readonly backlog?: () => number,
  ) {
    this.home = `${domainPath(domid)}/`;
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

  receiveBytes(chunk: Uint8Array): void {
    if (this.closed) return;
    this.#framer ??= new MessageFramer();
    let messages: Message[];
    try {
      messages = this.#framer.push(chunk);
    } catch (err) {
      this.host.disconnect(this, err instanceof Error ? err : new XenstoreError('EPROTO'));
      return;
    }
    for (const message of messages) this.send(message);
  }

  close(): void {
    if (!this.closed) this.host.disconnect(this);
  }

  queueEvent(path: string, token: string): void {
    // C drops an event identical to one still waiting in the connection's output queue, special
    // events excepted. Output is delivered after every request, so that queue only ever holds this
    // request's messages.
    const key = `${path}\0${token}`;
    const special = path.charCodeAt(0) === 0x40;
    if (!special && this.#queuedEvents.has(key)) return;
    // Tokens and `@` paths are the bytes the client sent, whatever they are.
    const payload = joinByteStrings([path, token]);
    // An event that cannot be framed is dropped rather than breaking the client's stream.
    if (payload.length > PAYLOAD_MAX) return;
    if (this.#overQuota(HEADER_SIZE + payload.length)) return;
    if (!special) this.#queuedEvents.add(key);
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

  /** Takes the queued messages for delivery. */
  takeOutput(): Message[] {
    const out = this.outbox;
    this.outbox = [];
    this.#queuedEvents.clear();
    return out;
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
