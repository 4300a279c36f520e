import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { debuglog } from 'node:util';
import {
  type BusyPoll,
  busyWaiter,
  DEFAULT_BUSY_POLL,
  type Waiter,
} from '../event-loop/busy-poller.ts';
import { emitDetached } from './client/emit-detached.ts';
import { NodeOperations, type RequestOptions } from './client/node-operations.ts';
import { abortError, type PendingRequest, RequestTable } from './client/request-table.ts';
import {
  runTransaction,
  Transaction,
  type TransactionCarrier,
  type TransactionOptions,
} from './client/transaction.ts';
import { type WaitCondition, waitUntil, type XenstoreWaitOptions } from './client/wait.ts';
import { Watch } from './client/watch.ts';
import { PAYLOAD_MAX } from './constants.ts';
import { isXenstoreError, XenstoreError } from './errors.ts';
import { MessageType, messageTypeName } from './messages.ts';
import { assertValidWatchPath } from './paths.ts';
import { decodeError, decodeReply, decodeWatchEvent, type ReplyValue } from './replies.ts';
import { encodeRequest, type Request, type RequestOp, requestPath } from './requests.ts';
import { defaultConnector } from './transport/default.ts';
import { socketConnector } from './transport/socket.ts';
import type { Transport, TransportConnector } from './transport/transport.ts';
import type { Message, OutgoingMessage } from './wire.ts';

const trace = debuglog('xenwire');

/**
 * How to re-establish a lost connection.
 * @category Client
 */
export interface ReconnectOptions {
  /** Attempts before giving up and closing the client; default 10. */
  readonly maxAttempts?: number;
  /** First wait in ms, doubled per attempt; default 50. */
  readonly initialDelay?: number;
  /** Longest wait in ms; default 5000. */
  readonly maxDelay?: number;
}

/**
 * Options of {@link XenstoreClient.connect}.
 * @category Client
 */
export interface XenstoreClientOptions {
  /**
   * How to reach the server. Default: libxenstore's choice (`XENSTORED_PATH`, the daemon's
   * socket, else `/dev/xen/xenbus`). See `socketConnector`, `xenbusDeviceConnector`,
   * `inProcessConnector`.
   */
  readonly transport?: TransportConnector;
  /** Shorthand for `transport: socketConnector(socketPath)`. */
  readonly socketPath?: string;
  /** Default per-request timeout in ms; default 30 000. `0` or `Infinity` waits for ever. */
  readonly timeout?: number;
  /** Default bound of each watch's event queue; default 1024. */
  readonly watchQueueCapacity?: number;
  /**
   * Re-establish the connection when it drops: watches are registered again (each fires its
   * registration event anew), open transactions are lost (their calls reject with
   * `ECONNRESET`) and counted in the `'reconnect'` event. Requests in flight at the drop reject
   * with `ECONNRESET`; requests made while reconnecting wait for the new connection.
   */
  readonly reconnect?: boolean | ReconnectOptions;
  /**
   * What the client does while a reply is outstanding: sleep until the server's reply wakes it,
   * or keep the event loop turning (spin). Default `false`: never spin, which costs the least
   * CPU per request wherever spinning is not quicker, and always when the machine has other work
   * (a Dom0 whose vCPUs guests share). `'adaptive'` follows whichever this thread has measured
   * quicker, re-measured now and then, and only while a single reply is awaited in the thread:
   * worth it for one-at-a-time requests when the server runs on another, otherwise idle CPU,
   * where a round trip can take half the time or less at about the CPU of sleeping. `true`
   * spins whenever replies are awaited. A spin never lasts more than 0.1 ms without a reply.
   */
  readonly busyPoll?: BusyPoll;
  /**
   * Refuse every request that would change the daemon's state (write, mkdir, rm, set
   * permissions, domain, feature, quota and control commands) with `EROFS`, before it is sent:
   * what libxenstore's `XS_OPEN_READONLY` once promised, which xenstored no longer enforces (its
   * read-only socket is gone). Reads, watches and transactions (that can then only read) work.
   */
  readonly readOnly?: boolean;
}

/**
 * Options of {@link XenstoreClient.watch}.
 * @category Client
 */
export interface WatchOptions extends RequestOptions {
  /** Aborting also ends the watch (UNWATCH), and its iterators finish without error. */
  readonly signal?: AbortSignal;
  /** Fire only for changes at most this many levels below the path (servers with WATCHDEPTH). */
  readonly depth?: number;
  /** Bound of this watch's event queue; defaults to the client's `watchQueueCapacity`. */
  readonly queueCapacity?: number;
}

/**
 * What the `'reconnect'` event reports.
 * @category Client
 */
export interface ReconnectInfo {
  /** Transactions that were open at the drop; the server has forgotten them. */
  readonly lostTransactions: number;
  /** Watches registered again. */
  readonly watches: number;
}

/**
 * Events of {@link XenstoreClient}.
 * @category Client
 */
export interface XenstoreClientEvents {
  /**
   * Something the server sent was dropped: a reply to an unknown `req_id`, an event for an
   * unknown token, a malformed event. The connection carries on.
   */
  diagnostic: [XenstoreError];
  /** The connection dropped and a reconnect is under way. */
  disconnect: [Error];
  /** The connection is back: watches registered again, open transactions lost. */
  reconnect: [ReconnectInfo];
  /** The client is closed for good: by `close()` (no error) or a connection that could not be kept. */
  close: [Error | undefined];
}

const DEFAULT_TIMEOUT = 30_000;
const DEFAULT_QUEUE_CAPACITY = 1024;

type State = 'open' | 'reconnecting' | 'closed';

/**
 * An asynchronous xenstore client: everything libxenstore and pyxs offer, with any number of
 * requests in flight on one connection.
 *
 * ```ts
 * await using xs = await XenstoreClient.connect();
 * await xs.write('/local/domain/0/name', 'Domain-0');
 * const name = await xs.readString('/local/domain/0/name');
 * ```
 *
 * Every call rejects with a {@link XenstoreError} whose `code` is the server's error name (e.g.
 * `ENOENT`) or one of `ETIMEDOUT`, `ABORT_ERR`, `ECONNRESET` (the connection was lost),
 * `EPROTO` (the server broke the protocol: a reply of the wrong type, `tx_id` or shape, or a
 * frame that closed the connection). Set
 * `NODE_DEBUG=xenwire` to trace every message.
 * @category Client
 */
export class XenstoreClient extends NodeOperations implements AsyncDisposable {
  readonly #connector: TransportConnector;
  readonly #readOnly: boolean;
  readonly #queueCapacity: number;
  readonly #reconnect: Required<ReconnectOptions> | undefined;
  readonly #events = new EventEmitter<XenstoreClientEvents>();
  readonly #requests: RequestTable;
  readonly #poller: Waiter;
  readonly #watches = new Map<string, Watch>();
  /** Tokens being unwatched: their late firings are expected and dropped quietly. */
  readonly #retiring = new Set<string>();
  readonly #transactions = new Set<Transaction>();
  /** Requests made while no connection is up, sent once one is. */
  readonly #backlog: OutgoingMessage[] = [];
  readonly #lifetime = new AbortController();
  #transport: Transport | undefined;
  #state: State = 'open';
  #connection = 0;
  #nextToken = 1;

  readonly #carrier: TransactionCarrier = {
    send: (request, txId, options) => this.#request(request, txId, options),
    ended: (tx) => this.#transactions.delete(tx),
  };

  private constructor(options: XenstoreClientOptions) {
    super();
    this.#connector =
      options.transport ??
      (options.socketPath ? socketConnector(options.socketPath) : defaultConnector());
    this.#requests = new RequestTable(options.timeout ?? DEFAULT_TIMEOUT);
    this.#poller = busyWaiter(options.busyPoll ?? DEFAULT_BUSY_POLL, () => this.#requests.waiting);
    this.#queueCapacity = options.watchQueueCapacity ?? DEFAULT_QUEUE_CAPACITY;
    this.#readOnly = options.readOnly ?? false;
    const reconnect = options.reconnect === true ? {} : options.reconnect || undefined;
    this.#reconnect = reconnect && {
      maxAttempts: reconnect.maxAttempts ?? 10,
      initialDelay: reconnect.initialDelay ?? 50,
      maxDelay: reconnect.maxDelay ?? 5000,
    };
  }

  /**
   * Opens a connection; when the server cannot be reached, rejects with the reason as its
   * `code`: `ENOENT` (no socket or device there), `ECONNREFUSED` (nothing listens on the socket),
   * `EACCES` (not allowed), `ENAMETOOLONG` (a socket path over 107 bytes).
   */
  static async connect(options: XenstoreClientOptions = {}): Promise<XenstoreClient> {
    const client = new XenstoreClient(options);
    await client.#open();
    return client;
  }

  /** Requests sent and not yet answered (or timed out). */
  get pendingRequests(): number {
    return this.#requests.waiting;
  }

  /** False once closed. */
  get open(): boolean {
    return this.#state !== 'closed';
  }

  /** Listens for `'diagnostic'`, `'disconnect'`, `'reconnect'` or `'close'`. */
  on<E extends keyof XenstoreClientEvents>(
    event: E,
    listener: (...args: XenstoreClientEvents[E]) => void,
  ): this {
    this.#events.on(event, listener as never);
    return this;
  }

  /** Listens for the next such event only. */
  once<E extends keyof XenstoreClientEvents>(
    event: E,
    listener: (...args: XenstoreClientEvents[E]) => void,
  ): this {
    this.#events.once(event, listener as never);
    return this;
  }

  /** Removes a listener added with `on` or `once`. */
  off<E extends keyof XenstoreClientEvents>(
    event: E,
    listener: (...args: XenstoreClientEvents[E]) => void,
  ): this {
    this.#events.off(event, listener as never);
    return this;
  }

  protected exchange<R extends Request>(
    request: R,
    options: RequestOptions | undefined,
  ): Promise<ReplyValue<R['op']>> {
    return this.#request(request, 0, options);
  }

  // ── watches ────────────────────────────────────────────────────────────────────────────────

  /**
   * Registers a watch on `path` (a node path, or `@introduceDomain`/`@releaseDomain`) and
   * resolves once the server has accepted it. Consume it with `for await`, or with
   * `watch.on('event', …)`; end it with `watch.close()`, `unwatch(watch)`, `break`, or the
   * `signal`.
   */
  async watch(path: string, options?: WatchOptions): Promise<Watch> {
    assertValidWatchPath(path, 'WATCH');
    const request = { op: 'WATCH', path, token: '', depth: options?.depth } as const;
    assertNumbers(request);
    const token = `xenwire:${this.#nextToken++}`;
    const watch = new Watch(
      path,
      token,
      options?.queueCapacity ?? this.#queueCapacity,
      this.#unwatch,
    );
    // Registered before the request: the server may fire before it answers.
    this.#watches.set(token, watch);
    try {
      await this.#request({ ...request, token }, 0, options, { op: 'UNWATCH', path, token });
    } catch (error) {
      this.#watches.delete(token);
      watch.finish();
      // Given up locally, the watch may still be registered until its undo goes through: its
      // firings are expected, not strays.
      if (isXenstoreError(error, 'ETIMEDOUT') || isXenstoreError(error, 'ABORT_ERR')) {
        this.#retiring.add(token);
      }
      throw error;
    }
    const signal = options?.signal;
    if (signal) {
      const stop = (): void => void watch.close().catch((error) => this.#diagnose(error));
      if (signal.aborted) stop();
      signal.addEventListener('abort', stop, { once: true });
      watch.once('close', () => signal.removeEventListener('abort', stop));
    }
    return watch;
  }

  /**
   * Resolves once `condition` holds for the node at `path`: by default once it exists; given a
   * string, once it holds that value; given a function, once it returns true for the value
   * (`undefined` while the node does not exist). Resolves with that value. The node is watched
   * and re-read after each change (ocaml-xenstore's `wait`); `signal` ends the wait with
   * `ABORT_ERR`.
   *
   * ```ts
   * await xs.wait('/local/domain/0/backend/vbd/5/51712/state', '4', {
   *   signal: AbortSignal.timeout(10_000),
   * });
   * ```
   */
  wait(
    path: string,
    condition?: WaitCondition,
    options?: XenstoreWaitOptions,
  ): Promise<Buffer | undefined> {
    return waitUntil(this, path, condition, options);
  }

  /**
   * Removes a watch. Once this resolves no further firing of it reaches the caller; firings
   * still queued are discarded. Idempotent.
   */
  unwatch(watch: Watch, options?: RequestOptions): Promise<void> {
    return this.#unwatch(watch, options);
  }

  readonly #unwatch = async (watch: Watch, options?: RequestOptions): Promise<void> => {
    watch.finish();
    if (this.#watches.get(watch.token) !== watch) return;
    this.#watches.delete(watch.token);
    if (this.#state !== 'open') return;
    this.#retiring.add(watch.token);
    try {
      await this.#request({ op: 'UNWATCH', path: watch.path, token: watch.token }, 0, options);
    } catch (error) {
      // Gone either way: the server no longer knows it, or the connection went with it.
      const gone = error instanceof XenstoreError && ['ENOENT', 'ECONNRESET'].includes(error.code);
      if (!gone) throw error;
    } finally {
      this.#retiring.delete(watch.token);
    }
  };

  /**
   * Drops all watches and transactions of this connection on the server (RESET_WATCHES); local
   * watches end without error and open transactions become unusable.
   */
  async resetWatches(options?: RequestOptions): Promise<void> {
    await this.#request({ op: 'RESET_WATCHES' }, 0, options);
    for (const watch of this.#watches.values()) watch.finish();
    this.#watches.clear();
    const reason = new XenstoreError('ENOENT', 'transaction dropped by RESET_WATCHES');
    for (const tx of [...this.#transactions]) tx.lose(reason);
  }

  // ── transactions ───────────────────────────────────────────────────────────────────────────

  /** Starts a transaction; end it with `tx.commit()` or `tx.abort()`. */
  async transactionStart(options?: RequestOptions): Promise<Transaction> {
    const id = await this.#request({ op: 'TRANSACTION_START' }, 0, options);
    const tx = new Transaction(id, this.#carrier);
    this.#transactions.add(tx);
    return tx;
  }

  /** Ends a transaction: `commit` true applies it (EAGAIN: it conflicted), false discards it. */
  transactionEnd(tx: Transaction, commit: boolean, options?: RequestOptions): Promise<void> {
    return commit ? tx.commit(options) : tx.abort(options);
  }

  /**
   * Runs `body` in a transaction and commits it, retrying the whole body on `EAGAIN` with
   * bounded, jittered back-off; a throwing body aborts the transaction and the error propagates.
   *
   * ```ts
   * await xs.transaction(async (tx) => {
   *   const n = Number(await tx.readString('/counter'));
   *   await tx.write('/counter', String(n + 1));
   * });
   * ```
   */
  transaction<T>(body: (tx: Transaction) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return runTransaction((opts) => this.transactionStart(opts), body, options);
  }

  // ── domains ────────────────────────────────────────────────────────────────────────────────

  /** Tells xenstored about a new domain's ring page (`gfn`) and event channel (`port`). */
  introduceDomain(
    domid: number,
    gfn: number | bigint,
    port: number,
    options?: RequestOptions,
  ): Promise<void> {
    return this.#checkedRequest({ op: 'INTRODUCE', domid, gfn, port }, options);
  }

  /** Tells xenstored a domain is gone. */
  releaseDomain(domid: number, options?: RequestOptions): Promise<void> {
    return this.#checkedRequest({ op: 'RELEASE', domid }, options);
  }

  /** Clears a domain's shutdown flag after a suspend that was cancelled. */
  resumeDomain(domid: number, options?: RequestOptions): Promise<void> {
    return this.#checkedRequest({ op: 'RESUME', domid }, options);
  }

  /** Whether xenstored knows `domid` (`DOMID_SELF` asks about the caller). */
  isDomainIntroduced(domid: number, options?: RequestOptions): Promise<boolean> {
    return this.#checkedRequest({ op: 'IS_DOMAIN_INTRODUCED', domid }, options);
  }

  /** The home path of a domain, e.g. `/local/domain/3`. */
  getDomainPath(domid: number, options?: RequestOptions): Promise<string> {
    return this.#checkedRequest({ op: 'GET_DOMAIN_PATH', domid }, options);
  }

  /** Lets `domid` act with the privileges of `target` (device models). */
  setTarget(domid: number, target: number, options?: RequestOptions): Promise<void> {
    return this.#checkedRequest({ op: 'SET_TARGET', domid, target }, options);
  }

  // ── server administration ──────────────────────────────────────────────────────────────────

  /**
   * An implementation-specific command (CONTROL, formerly DEBUG), e.g. `['log', 'on']` or
   * `['quota']`; the answer is returned as bytes, without the NUL the C daemon ends it with
   * (`OK`, not `OK\0`).
   */
  async control(args: readonly (string | Uint8Array)[], options?: RequestOptions): Promise<Buffer> {
    if (args.length === 0) throw new XenstoreError('EINVAL', 'CONTROL needs a command', 'CONTROL');
    const answer = await this.#request({ op: 'CONTROL', args }, 0, options);
    return answer.at(-1) === 0 ? answer.subarray(0, -1) : answer;
  }

  /** The server's features, or a domain's (servers without GET_FEATURE answer ENOSYS). */
  getFeature(domid?: number, options?: RequestOptions): Promise<number> {
    return this.#checkedRequest({ op: 'GET_FEATURE', domid }, options);
  }

  /** Sets a domain's feature bits. */
  setFeature(domid: number, value: number, options?: RequestOptions): Promise<void> {
    return this.#checkedRequest({ op: 'SET_FEATURE', domid, value }, options);
  }

  /** The names of the quotas the server enforces (servers without GET_QUOTA answer ENOSYS). */
  async listQuotas(options?: RequestOptions): Promise<string[]> {
    const names = await this.#request({ op: 'GET_QUOTA' }, 0, options);
    return names.split(' ').filter((name) => name !== '');
  }

  /** A quota's global value, or its value for `domid`. */
  async getQuota(quota: string, domid?: number, options?: RequestOptions): Promise<number> {
    const text = await this.#checkedRequest({ op: 'GET_QUOTA', quota, domid }, options);
    if (!/^\d+$/.test(text)) {
      throw new XenstoreError('EPROTO', `malformed GET_QUOTA reply ${JSON.stringify(text)}`);
    }
    return Number(text);
  }

  /** Sets a quota globally, or for `domid`. */
  setQuota(quota: string, value: number, domid?: number, options?: RequestOptions): Promise<void> {
    return this.#checkedRequest({ op: 'SET_QUOTA', domid, quota, value }, options);
  }

  // ── lifecycle ──────────────────────────────────────────────────────────────────────────────

  /**
   * Closes the connection. Pending requests reject with `ECONNRESET`, watches end without
   * error, open transactions are lost (the server aborts them).
   */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#lifetime.abort();
    const transport = this.#transport;
    this.#transport = undefined;
    transport?.close();
    this.#teardown(new XenstoreError('ECONNRESET', 'client closed'), true);
  }

  /** Closes the client (`await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ── the request machinery ──────────────────────────────────────────────────────────────────

  /** Sends a request carrying numbers (domids, ports, values) once they are checked. */
  #checkedRequest<R extends Request>(
    request: R,
    options: RequestOptions | undefined,
  ): Promise<ReplyValue<R['op']>> {
    try {
      assertNumbers(request);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#request(request, 0, options);
  }

  /** Sends `request` and resolves with its decoded reply. */
  #request<R extends Request>(
    request: R,
    txId: number,
    options: RequestOptions | undefined,
    undo?: Request,
  ): Promise<ReplyValue<R['op']>> {
    const op = request.op;
    if (this.#state === 'closed') {
      return Promise.reject(
        new XenstoreError('ECONNRESET', 'client is closed', op, requestPath(request)),
      );
    }
    if (this.#readOnly && CHANGES_STATE.has(op)) {
      return Promise.reject(
        new XenstoreError('EROFS', {
          message: `${op} refused: the client is read-only`,
          op,
          path: requestPath(request),
        }),
      );
    }
    const signal = options?.signal;
    if (signal?.aborted) {
      return Promise.reject(abortError(op, requestPath(request), signal.reason));
    }
    const reqId = this.#requests.nextId();
    const message = encodeRequest(request, { reqId, txId });
    if (message.payloadLength > PAYLOAD_MAX) {
      return Promise.reject(
        new XenstoreError(
          'E2BIG',
          `${op} payload of ${message.payloadLength} bytes exceeds ${PAYLOAD_MAX}`,
          op,
          requestPath(request),
        ),
      );
    }
    const pending = this.#requests.add(reqId, op, txId, requestPath(request), options, undo);
    // Before the transmit: an in-process server answers inside it.
    this.#poller.expect();
    this.#transmit(message);
    return pending.promise as Promise<ReplyValue<R['op']>>;
  }

  #transmit(message: OutgoingMessage): void {
    if (trace.enabled) traceMessage('->', message);
    const transport = this.#transport;
    if (transport === undefined) {
      this.#backlog.push(message);
      return;
    }
    try {
      transport.send(message);
    } catch (error) {
      this.#onTransportClose(this.#connection, error as Error);
    }
  }

  #onMessage(message: Message): void {
    if (trace.enabled) traceMessage('<-', message);
    if (message.type === MessageType.WATCH_EVENT) {
      this.#onWatchEvent(message);
      return;
    }
    const pending = this.#requests.take(message.reqId);
    if (pending === undefined) {
      this.#diagnose(
        new XenstoreError(
          'EPROTO',
          `dropped a reply (type ${message.type}) to unknown req_id ${message.reqId}`,
        ),
      );
      return;
    }
    if (message.txId !== pending.txId) {
      // Not the answer to this request: what the server did is unknown, so nothing is undone.
      const error = new XenstoreError(
        'EPROTO',
        `${pending.op} answered with tx_id ${message.txId} instead of ${pending.txId}`,
        pending.op,
        pending.path,
      );
      if (pending.abandoned) this.#diagnose(error);
      else pending.reject(error);
      return;
    }
    if (pending.abandoned) {
      this.#onLateReply(pending, message);
      return;
    }
    this.#poller.arrived();
    if (message.type === MessageType.ERROR) {
      pending.reject(decodeError(message.payload, pending.op, pending.path));
      return;
    }
    let value: unknown;
    try {
      value = decodeReply(pending.op, message);
    } catch (error) {
      const e = error as XenstoreError;
      pending.reject(new XenstoreError(e.code, e.message, pending.op, pending.path, { cause: e }));
      return;
    }
    pending.resolve(value);
  }

  /** Undoes what an abandoned request did after all, so the server holds nothing unwanted. */
  #onLateReply(pending: PendingRequest, message: Message): void {
    if (message.type === MessageType.ERROR) return;
    if (pending.op === 'TRANSACTION_START') {
      let txId: number;
      try {
        txId = decodeReply('TRANSACTION_START', message);
      } catch (error) {
        this.#diagnose(error as XenstoreError);
        return;
      }
      this.#sendUnanswered({ op: 'TRANSACTION_END', commit: false }, txId);
    } else if (pending.undo) {
      this.#sendUnanswered(pending.undo, 0);
    }
  }

  /** Sends a request whose reply nobody awaits (it is consumed like a late one). */
  #sendUnanswered(request: Request, txId: number): void {
    if (this.#state === 'closed') return;
    const reqId = this.#requests.nextId();
    this.#requests.addUnanswered(reqId, request.op, txId, requestPath(request));
    this.#transmit(encodeRequest(request, { reqId, txId }));
  }

  #onWatchEvent(message: Message): void {
    let event: { path: string; token: string };
    try {
      event = decodeWatchEvent(message.payload);
    } catch (error) {
      this.#diagnose(error as XenstoreError);
      return;
    }
    const watch = this.#watches.get(event.token);
    if (watch) {
      watch.deliver(event.path);
    } else if (!this.#retiring.has(event.token)) {
      this.#diagnose(
        new XenstoreError(
          'EPROTO',
          `dropped a watch event for unknown token ${JSON.stringify(event.token)}`,
          'WATCH_EVENT',
          event.path,
        ),
      );
    }
  }

  #diagnose(error: XenstoreError): void {
    trace('diagnostic: %s', error.message);
    emitDetached(this.#events, 'diagnostic', error);
  }

  // ── connections ────────────────────────────────────────────────────────────────────────────

  async #open(): Promise<void> {
    const connection = ++this.#connection;
    const transport = await this.#connector({
      onMessage: (message) => {
        if (connection === this.#connection) this.#onMessage(message);
      },
      onClose: (reason) => this.#onTransportClose(connection, reason),
    });
    if (this.#state === 'closed' || connection !== this.#connection) {
      transport.close();
      return;
    }
    this.#transport = transport;
    this.#state = 'open';
    for (const message of this.#backlog.splice(0)) {
      if (this.#requests.isAwaited(message.reqId)) this.#transmit(message);
    }
  }

  #onTransportClose(connection: number, reason?: Error): void {
    if (connection !== this.#connection || this.#state === 'closed') return;
    // Retire the connection first: closing the transport may report its close again.
    this.#connection++;
    const transport = this.#transport;
    this.#transport = undefined;
    transport?.close();
    // A server that broke the framing (or a ring's rules) is EPROTO; any other end, ECONNRESET.
    const broken = isXenstoreError(reason, 'EPROTO');
    const error = new XenstoreError(broken ? 'EPROTO' : 'ECONNRESET', {
      message: broken
        ? `connection closed: the server broke the protocol: ${reason.message}`
        : reason
          ? `connection lost: ${reason.message}`
          : 'connection closed by the server',
      cause: reason,
    });
    trace('connection lost: %s', error.message);
    if (this.#reconnect === undefined) {
      this.#state = 'closed';
      this.#teardown(error, false);
      return;
    }
    this.#state = 'reconnecting';
    const lostTransactions = this.#transactions.size;
    this.#teardown(error, false);
    emitDetached(this.#events, 'disconnect', error);
    void this.#reconnectLoop(this.#reconnect, lostTransactions, error);
  }

  async #reconnectLoop(
    policy: Required<ReconnectOptions>,
    lostTransactions: number,
    cause: XenstoreError,
  ): Promise<void> {
    let delay = policy.initialDelay;
    for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
      try {
        await sleep(delay, undefined, { signal: this.#lifetime.signal });
      } catch {
        return; // closed meanwhile
      }
      delay = Math.min(delay * 2, policy.maxDelay);
      try {
        await this.#open();
      } catch (error) {
        trace('reconnect attempt %d failed: %s', attempt, (error as Error).message);
        continue;
      }
      if (this.#state !== 'open') return;
      const watches = [...this.#watches.values()];
      for (const watch of watches) this.#register(watch);
      emitDetached(this.#events, 'reconnect', { lostTransactions, watches: watches.length });
      return;
    }
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#teardown(cause, true);
  }

  /** Registers an existing watch again on a new connection. */
  #register(watch: Watch): void {
    const request: Request = { op: 'WATCH', path: watch.path, token: watch.token };
    this.#request(request, 0, undefined).catch((error: XenstoreError) => {
      if (this.#watches.get(watch.token) !== watch) return;
      this.#watches.delete(watch.token);
      watch.finish(error);
      this.#diagnose(error);
    });
  }

  /**
   * Fails everything that depended on the connection. `final` also ends watches (without error
   * when the caller closed the client) and announces the close.
   */
  #teardown(error: XenstoreError, final: boolean): void {
    this.#backlog.length = 0;
    this.#requests.failAll(
      (request) =>
        new XenstoreError(error.code, error.message, request.op, request.path, { cause: error }),
    );
    for (const tx of [...this.#transactions]) {
      tx.lose(
        new XenstoreError(
          error.code,
          `transaction ${tx.id} lost with the connection`,
          undefined,
          undefined,
          {
            cause: error,
          },
        ),
      );
    }
    if (!final && this.#state !== 'closed') return;
    const userClosed = this.#lifetime.signal.aborted;
    for (const watch of this.#watches.values()) watch.finish(userClosed ? undefined : error);
    this.#watches.clear();
    emitDetached(this.#events, 'close', userClosed ? undefined : error);
  }
}

/** The requests a read-only client refuses: each can change the daemon's state. */
const CHANGES_STATE: ReadonlySet<RequestOp> = new Set<RequestOp>([
  'WRITE',
  'MKDIR',
  'RM',
  'SET_PERMS',
  'INTRODUCE',
  'RELEASE',
  'RESUME',
  'SET_TARGET',
  'SET_FEATURE',
  'SET_QUOTA',
  'CONTROL',
]);

/** Largest value of each numeric request field; domain ids are 16 bits. */
const numberLimits: Readonly<Record<string, number>> = {
  domid: 0xffff,
  target: 0xffff,
  gfn: Number.MAX_SAFE_INTEGER,
};

/** Throws EINVAL unless every number in `request` is a non-negative integer in its range. */
function assertNumbers(request: Request): void {
  for (const [field, value] of Object.entries(request)) {
    if (typeof value !== 'number') continue;
    const max = numberLimits[field] ?? 0xffffffff;
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw new XenstoreError('EINVAL', `invalid ${field} ${value}`, request.op);
    }
  }
}

function traceMessage(direction: string, message: Message): void {
  const name = messageTypeName(message.type) ?? `type ${message.type}`;
  const text = Buffer.from(message.payload.subarray(0, 128))
    .toString('latin1')
    .replaceAll('\0', '\\0');
  trace(
    '%s %s req %d tx %d len %d %s',
    direction,
    name,
    message.reqId,
    message.txId,
    message.payload.length,
    text,
  );
}
