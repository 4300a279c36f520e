import { appendFileSync } from 'node:fs';
import { XenstoreFeature } from '../../ring/index.ts';
import { DOMID_SELF, isWireErrorName, PAYLOAD_MAX, type WireErrorName } from '../constants.ts';
import { XenstoreError } from '../errors.ts';
import { FaultInjector } from '../faults/injector.ts';
import { type FaultPlan, type FaultSpec, faultPlanOf } from '../faults/plan.ts';
import { SeededRandom } from '../faults/random.ts';
import { messageRow, requestEntry } from '../messages.ts';
import { assertValidPath, domainPath, isSpecialPath, joinPath, resolvePath } from '../paths.ts';
import { OK_PAYLOAD, requestStrings } from '../payload.ts';
import { booleanPayload, errorMessage, replyMessage, stringPayload } from '../replies.ts';
import { decodeRequest, type Request, type RequestOf, type RequestOp } from '../requests.ts';
import type {
  DomainDirectory,
  ServerConnectOptions,
  XenstoreConnection,
  XenstoreService,
} from '../transport/transport.ts';
import type { Message } from '../wire.ts';
import { type ConnectionHost, ServerConnection } from './connection.ts';
import { type ControlHost, control } from './control.ts';
import { DomainTable } from './domains.ts';
import {
  EventDispatcher,
  INTRODUCE_DOMAIN,
  RELEASE_DOMAIN,
  type SpecialPermissions,
} from './events.ts';
import {
  type DumpStreamOptions,
  dumpStream,
  type MigrationHost,
  parkedConnection,
  type RestoredConnection,
  restoredConnections,
  restoreInPlace,
  restoreStream,
  type StreamEndpoint,
} from './migration.ts';
import type { GlobalRecord } from './migration-stream.ts';
import type { NodePermissions } from './node.ts';
import { allows, Perm, settledPermissions } from './permissions.ts';
import {
  dumpNodes,
  dumpPermissions,
  loadNodes,
  loadPermissions,
  type StoreDump,
} from './persistence.ts';
import { QUOTA_NAMES, type Quotas, QuotaTable, quotaKey } from './quota.ts';
import { RequestScope, type ScopeContext } from './scope.ts';
import { DOM0_ONLY, Store } from './store.ts';
import { type TraceSink, tracer } from './trace.ts';
import { type ConflictPolicy, Transaction } from './transactions.ts';
import { checkPermissionCount, removeNode, storedPermissions } from './tree-ops.ts';
import { applyTreeRequest, type TreeRequest } from './tree-requests.ts';
import { Turns } from './turns.ts';
import { WatchRegistry } from './watch-registry.ts';
import { WatchIndex } from './watches.ts';

/**
 * Options of {@link XenstoreServer}.
 * @category Server
 */
export interface ServerOptions {
  /**
   * `'4.17'` answers GET_FEATURE, SET_FEATURE, GET_QUOTA and SET_QUOTA (types 23 to 26) with
   * ENOSYS, as Xen 4.17's daemon does; the default implements them as current xenstored does.
   */
  readonly version?: 'current' | '4.17';
  /** Limits for unprivileged domains; C xenstored 4.17's defaults unless given. */
  readonly quotas?: Partial<Quotas>;
  /** Transaction conflict detection: C 4.17's per-node generations (default) or coalescing. */
  readonly conflicts?: ConflictPolicy;
  /** Fail this fraction (0..1) of otherwise successful commits with EAGAIN. */
  readonly commitFailureRate?: number;
  /** Seed of the commit failure choice, and of `faults` unless it names its own (reproducible runs). */
  readonly faultSeed?: number;
  /**
   * Faults to inject into every connection, per operation and path (error replies instead of
   * answers), delays, stalls, split writes (on byte media), dropped or reset connections,
   * duplicated or reordered watch events; each is traced. Throws a `FaultSpecError` (EINVAL)
   * when the spec is bad.
   */
  readonly faults?: FaultSpec;
  /** Initial content, added to the fresh tree (`/`, `/tool`, `/tool/xenstored`). */
  readonly seed?: StoreDump;
  /** Records every message received and sent. */
  readonly trace?: TraceSink;
  /** A guest domain treated as privileged, like dom0 (`xenstored --priv-domid`). */
  readonly privilegedDomid?: number;
  /** Feature bits the server offers (GET_FEATURE without a domid). */
  readonly features?: number;
}

/**
 * Serves one request of type `Op` on `conn`, inside transaction `tx` if the request names one;
 * returns the reply payload or throws the error to answer.
 */
type Handler<Op extends RequestOp> = (
  conn: ServerConnection,
  tx: RequestScope | undefined,
  request: RequestOf<Op>,
) => Uint8Array;

/** A handler for every request type of the table: one missing does not compile. */
type Handlers = { readonly [Op in RequestOp]: Handler<Op> };

/**
 * An in-memory xenstored that behaves like C xenstored of Xen 4.17 in everything a client can
 * observe: the tree and its reply formats, permissions by connection domain, watches, transactions
 * with per-node conflict detection, domains and quotas.
 *
 * Requests are served synchronously: replies and watch events are delivered before `send`
 * returns, in order, and never re-entrantly (see {@link XenstoreConnection}).
 * @category Server
 */
export class XenstoreServer implements XenstoreService {
  /** @internal The tree itself; clients see it through connections. */
  readonly store: Store;
  readonly #domains = new DomainTable(() => this.store.generation);
  /** @internal Quota limits and per-domain overrides. */
  readonly quotas: QuotaTable;
  readonly #watches = new WatchIndex();
  readonly #registry: WatchRegistry;
  readonly #special = new Map<string, SpecialPermissions>([
    [INTRODUCE_DOMAIN, { perms: DOM0_ONLY, generation: 0 }],
    [RELEASE_DOMAIN, { perms: DOM0_ONLY, generation: 0 }],
  ]);
  readonly #events: EventDispatcher;
  readonly #context: ScopeContext;
  readonly #connections = new Set<ServerConnection>();
  readonly #commitFaults: SeededRandom;
  readonly #commitFailureRate: number;
  readonly #faultPlan: FaultPlan | undefined;
  #trace: ReturnType<typeof tracer> | undefined;
  #logFile: string | undefined;
  readonly #policy: ConflictPolicy;
  readonly #legacy: boolean;
  readonly #privilegedDomid: number;
  readonly #features: number;
  readonly #host: ConnectionHost;
  readonly #controlHost: ControlHost;
  // Connection ids and domains' ring connections share one sequence: C's connection list order.
  #nextConnectionId = 1;
  readonly #ringOrder = new Map<number, number>();
  // Requests that arrived while another was being served or delivered.
  #queue: [ServerConnection, Message][] = [];
  #busy = false;
  readonly #pending = new Set<ServerConnection>();
  readonly #turns = new Turns<ServerConnection>(() => this.#pass());
  // Unprivileged connections by domain: their unread output is held against the domain's quota.
  readonly #byDomain = new Map<number, Set<ServerConnection>>();
  // Set by WATCH: the registration event follows the reply.
  #afterReply: (() => void) | undefined;
  // Connections that came from a migration stream, and the stream's GLOBAL record.
  readonly #endpoints = new Map<ServerConnection, StreamEndpoint>();
  #streamGlobal: GlobalRecord | undefined;

  constructor(options: ServerOptions = {}) {
    this.store = Store.initial();
    this.quotas = new QuotaTable(options.quotas);
    this.#registry = new WatchRegistry(this.#watches, this.quotas);
    this.#controlHost = this.#controlHostFor();
    this.#events = new EventDispatcher(this.store, this.#watches, this.#special);
    this.#context = { quotas: this.quotas, domains: this.#domains, events: this.#events };
    this.#commitFaults = new SeededRandom(options.faultSeed ?? 1);
    this.#commitFailureRate = options.commitFailureRate ?? 0;
    this.#faultPlan =
      options.faults && faultPlanOf({ seed: options.faultSeed, ...stripUndefined(options.faults) });
    this.#trace = options.trace ? tracer(options.trace) : undefined;
    this.#policy = options.conflicts ?? 'generation';
    this.#legacy = options.version === '4.17';
    this.#privilegedDomid = options.privilegedDomid ?? 0;
    this.#features = options.features ?? XenstoreFeature.RECONNECTION | XenstoreFeature.ERROR;
    this.#host = {
      request: (conn, message) => this.#request(conn, message),
      disconnect: (conn, reason) => this.#disconnect(conn, reason),
      pending: (conn) => this.#pending.add(conn),
      targetOf: (domid) => this.#domains.get(domid)?.target,
      honours: (domid, generation) => {
        const domain = this.#domains.get(domid);
        return domain !== undefined && domain.generation <= generation;
      },
      memoryQuota: (domid) => this.quotas.limit(domid, 'memory'),
    };
    if (options.seed) this.#restore(options.seed);
  }

  /** A server holding the content of a {@link XenstoreServer.dump} (nodes, domains, special permissions). */
  static load(dump: StoreDump | string, options: ServerOptions = {}): XenstoreServer {
    const seed = typeof dump === 'string' ? (JSON.parse(dump) as StoreDump) : dump;
    return new XenstoreServer({ ...options, seed });
  }

  /** The whole store as JSON-ready data; {@link XenstoreServer.load} reads it back. */
  dump(): StoreDump {
    const domains = [...this.#domains.all()]
      .filter((d) => d.domid !== 0 && !d.implicit)
      .map((d) => ({ domid: d.domid, gfn: String(d.gfn), port: d.port }));
    const specials = [...this.#special].map(
      ([path, { perms, generation }]) =>
        [path, dumpPermissions(settledPermissions(this.#host, perms, generation))] as const,
    );
    const specialIgnored = specials.filter(([, dumped]) => dumped.ignored);
    return {
      format: 'xenwire-store',
      version: 1,
      nodes: dumpNodes(this.store, (node) =>
        settledPermissions(this.#host, node.perms, node.generation),
      ),
      domains,
      specialPermissions: Object.fromEntries(specials.map(([path, { perms }]) => [path, perms])),
      ...(specialIgnored.length > 0
        ? {
            specialIgnored: Object.fromEntries(
              specialIgnored.map(([path, { ignored }]) => [path, ignored!]),
            ),
          }
        : {}),
    };
  }

  #restore(seed: StoreDump): void {
    // Domains first: a permission entry only counts for a domain that existed when its node was
    // written (C's generation check), and the dumped nodes were written while they lived.
    for (const domain of seed.domains ?? []) {
      this.#domains.introduce(domain.domid, BigInt(domain.gfn), domain.port);
    }
    loadNodes(this.store, seed.nodes);
    for (const [path, texts] of Object.entries(seed.specialPermissions ?? {})) {
      if (this.#special.has(path)) {
        const perms = loadPermissions(texts, seed.specialIgnored?.[path]);
        this.#special.set(path, { perms, generation: this.store.tick() });
      }
    }
  }

  // What CONTROL reads and does: usage figures as C counts them, log file, live update.
  #controlHostFor(): ControlHost {
    const server = this;
    const connectionsOf = (domid: number) =>
      [...this.#connections].filter((c) => c.domid === domid);
    return {
      quotas: this.quotas,
      usage: (domid) => {
        if (!this.#domains.isIntroduced(domid)) return undefined;
        let memory = this.store.databaseBytes(domid);
        let outstanding = 0;
        let watches = 0;
        for (const conn of connectionsOf(domid)) {
          for (const watch of conn.watches.values()) {
            memory += watch.path.length + watch.token.length;
          }
          outstanding += conn.outbox.length + (this.#endpoints.get(conn)?.queued.length ?? 0);
          // C counts the watches of a domain's ring; dom0's sockets have no domain.
          if (domid !== 0 || this.#endpoints.get(conn)?.kind === 'ring')
            watches += conn.watches.size;
        }
        return {
          nodes: this.store.owned(domid),
          watches,
          // As C, dom0's socket-like connections hold no transactions of a domain.
          transactions: domid === 0 ? 0 : this.#openTransactions(domid),
          outstanding,
          memory,
        };
      },
      memoryReport: () => {
        const bytes = this.store.databaseBytes();
        let watches = 0;
        for (const conn of this.#connections) watches += conn.watches.size;
        return (
          `memory report (${new Date().toISOString()}): ${this.store.size} nodes in ${bytes} bytes, ` +
          `${this.#connections.size} connections, ${watches} watches, ` +
          `${[...this.#domains.all()].length} domains\n`
        );
      },
      setLogFile: (path) => {
        this.#logFile = path;
        this.#trace = tracer({
          write: (chunk: string) => appendFileSync(path, chunk),
        });
      },
      get logFile() {
        return server.#logFile;
      },
      openTransactions: () => {
        const now = Date.now();
        const out: [number, number][] = [];
        for (const conn of this.#connections) {
          let oldest = Number.POSITIVE_INFINITY;
          for (const scope of conn.transactions.values()) {
            oldest = Math.min(oldest, scope.transaction!.startedAt);
          }
          if (oldest !== Number.POSITIVE_INFINITY) {
            out.push([conn.domid, Math.floor((now - oldest) / 1000)]);
          }
        }
        return out;
      },
      liveUpdate: () => {
        const host = this.#migrationHost();
        restoreInPlace(host, dumpStream(host));
      },
    };
  }

  /**
   * A server holding the state of a migration stream (Xen's format, as C xenstored 4.17 writes it
   * for live update): nodes with permissions, special-path permissions, domains, watches and
   * open transactions. The stream's connections wait, with their watches and transactions, until
   * resumed: a guest's ring by the next `connect` for that domain, any one by
   * {@link XenstoreServer.resumeConnection}. A malformed stream is a `MigrationStreamError`
   * (EINVAL or EPROTO, with the byte offset).
   */
  static fromMigrationStream(stream: Uint8Array, options: ServerOptions = {}): XenstoreServer {
    const server = new XenstoreServer(options);
    restoreStream(server.#migrationHost(), stream);
    return server;
  }

  /**
   * The server's state as a migration stream that {@link XenstoreServer.fromMigrationStream} (or
   * C xenstored's live update) reads back. In-process connections of dom0 are written as sockets
   * without a file descriptor, guests' as their domain's ring.
   */
  dumpMigrationStream(options: DumpStreamOptions = {}): Uint8Array {
    return dumpStream(this.#migrationHost(), options);
  }

  /** Connections of the loaded migration stream that no transport has resumed yet. */
  restoredConnections(): RestoredConnection[] {
    return restoredConnections(this.#migrationHost());
  }

  /**
   * Takes over connection `connId` of the loaded migration stream: its watches and transactions
   * carry on, the output it had pending (and any that arrived since) is delivered first, and a
   * whole request it had read but not served is served. ENOENT when no such connection waits.
   */
  resumeConnection(
    connId: number,
    handlers: Pick<ServerConnectOptions, 'onMessage' | 'onClose'>,
  ): XenstoreConnection {
    return this.#resume(parkedConnection(this.#migrationHost(), connId), handlers);
  }

  #resume(
    conn: ServerConnection,
    handlers: Pick<ServerConnectOptions, 'onMessage' | 'onClose'>,
  ): ServerConnection {
    const endpoint = this.#endpoints.get(conn)!;
    const pending = endpoint.takeOutput();
    const request = endpoint.takeInput();
    endpoint.handler = handlers.onMessage;
    endpoint.closer = handlers.onClose;
    this.#serve(() => {
      for (const message of pending) conn.queueReply(message);
    });
    if (request) conn.send(request);
    return conn;
  }

  #migrationHost(): MigrationHost {
    const server = this;
    return {
      store: this.store,
      domains: this.#domains,
      special: this.#special,
      registry: this.#registry,
      connections: () => this.#connections,
      endpoint: (conn) => this.#endpoints.get(conn),
      park: (domid, endpoint) => {
        const conn = this.#open(
          domid,
          domid === 0 || domid === this.#privilegedDomid,
          (message) => endpoint.deliver(message),
          (reason) => endpoint.closer?.(reason),
        );
        this.#endpoints.set(conn, endpoint);
        if (domid !== 0 && endpoint.kind === 'ring' && !this.#ringOrder.has(domid)) {
          this.#ringOrder.set(domid, conn.id);
        }
        return conn;
      },
      startTransaction: (conn, txId) => this.#newTransaction(conn, txId),
      get global() {
        return server.#streamGlobal;
      },
      set global(record) {
        server.#streamGlobal = record;
      },
    };
  }

  /**
   * Opens an in-process connection speaking for `domid` (default 0). A guest domain not yet
   * introduced is introduced implicitly (no `@introduceDomain` event), since only live domains
   * connect to a real xenstored. A guest whose ring came from a migration stream gets that
   * connection back, watches and transactions included.
   */
  connect(options: ServerConnectOptions): XenstoreConnection {
    const domid = options.domid ?? 0;
    if (domid !== 0) {
      for (const [conn, endpoint] of this.#endpoints) {
        if (conn.domid === domid && endpoint.kind === 'ring' && !endpoint.resumed) {
          return this.#resume(conn, options);
        }
      }
    }
    if (!this.#domains.isIntroduced(domid)) {
      this.#domains.assume(domid);
      this.#ringOrder.set(domid, this.#nextConnectionId++);
    }
    const privileged = options.privileged ?? (domid === 0 || domid === this.#privilegedDomid);
    const plan = this.#faultPlan;
    if (!plan) return this.#open(domid, privileged, options.onMessage, options.onClose, options);
    let injector: FaultInjector | undefined;
    const conn = this.#open(
      domid,
      privileged,
      (message) => injector!.fromServer(message),
      (reason) => {
        injector!.detach();
        options.onClose?.(reason);
      },
      options,
    );
    injector = new FaultInjector(plan, conn.id, {
      toServer: (message) => conn.send(message),
      toClient: options.onMessage,
      ...(options.writeBytes && { toClientBytes: options.writeBytes }),
      close: () => conn.close(),
      record: (fault) => this.#trace?.fault(conn, fault),
    });
    return {
      id: conn.id,
      domid,
      send: (message) => injector.fromClient(message),
      get queued() {
        return conn.queued;
      },
      close: () => conn.close(),
    };
  }

  #open(
    domid: number,
    privileged: boolean,
    onMessage: (message: Message) => void,
    onClose: ((reason?: Error) => void) | undefined,
    io: Pick<ServerConnectOptions, 'backlog' | 'fair' | 'onDrained'> = {},
  ): ServerConnection {
    const conn = new ServerConnection(
      this.#nextConnectionId++,
      domid,
      privileged,
      onMessage,
      onClose,
      this.#host,
      io.backlog,
      io.fair,
      io.onDrained,
    );
    conn.scope = new RequestScope(conn, this.store, this.#context, undefined);
    this.#connections.add(conn);
    if (!privileged) {
      const same = this.#byDomain.get(domid);
      if (same) same.add(conn);
      else this.#byDomain.set(domid, new Set([conn]));
    }
    return conn;
  }

  /** The domains the store knows, as the server ends of the transports see them. */
  get domains(): DomainDirectory {
    return this.#domains;
  }

  /** How many connections are open. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * INTRODUCE from outside the protocol (e.g. a ring server starting a guest). Fires
   * `@introduceDomain` when the domain is new.
   */
  introduceDomain(domid: number, gfn: bigint | number, port: number): void {
    this.#serve(() => this.#introduce(domid, BigInt(gfn), port));
  }

  /**
   * RELEASE from outside the protocol (the domain died): its connections, watches and nodes go.
   * EINVAL for dom0, ENOENT for an unknown domain.
   */
  releaseDomain(domid: number): void {
    this.#serve(() => this.#release(guestDomid(domid)));
  }

  /** Closes every connection. */
  close(): void {
    for (const conn of [...this.#connections]) this.#disconnect(conn);
  }

  // Runs `work` as if it were a request: output is delivered once it is done.
  #serve(work: () => void): void {
    if (this.#busy) {
      work();
      return;
    }
    this.#busy = true;
    try {
      work();
      this.#flush();
    } finally {
      this.#busy = false;
    }
  }

  #request(conn: ServerConnection, message: Message): void {
    if (conn.fair) {
      this.#offer(conn, message);
      return;
    }
    if (this.#busy) {
      this.#queue.push([conn, message]);
      return;
    }
    this.#serveNow(conn, message);
  }

  // Not through #serve: a closure per request is measurable on the hot path.
  #serveNow(conn: ServerConnection, message: Message): void {
    this.#busy = true;
    try {
      this.#process(conn, message);
      this.#flush();
    } finally {
      this.#busy = false;
    }
  }

  // A fair connection's request: served now if it is the connection's first in this turn and
  // nothing of it waits, else in a later pass.
  #offer(conn: ServerConnection, message: Message): void {
    const turns = this.#turns;
    if (
      this.#busy ||
      conn.queued > 0 ||
      conn.servedTurn === turns.turn ||
      conn.outbox.length > 0 ||
      turns.blocked.has(conn) ||
      this.#outputOverLimit(conn)
    ) {
      conn.enqueue(message);
      if (!turns.blocked.has(conn)) turns.ready.add(conn);
      turns.schedulePass();
      return;
    }
    conn.servedTurn = turns.turn;
    turns.endTurnSoon();
    this.#serveNow(conn, message);
  }

  // One turn of C's main loop: held output goes out, then each ready connection gets one request
  // served, unless its peer has too much output unread.
  #pass(): void {
    const turns = this.#turns;
    this.#busy = true;
    try {
      this.#flush();
      for (const conn of [...turns.ready]) {
        if (conn.closed) {
          turns.forget(conn);
          continue;
        }
        // Its output from an earlier request is still going out: no new request until it has.
        if (conn.outbox.length > 0) continue;
        if (this.#outputOverLimit(conn)) {
          turns.block(conn);
          continue;
        }
        const message = conn.dequeue();
        if (conn.queued === 0) turns.ready.delete(conn);
        if (message === undefined) continue;
        conn.servedTurn = turns.turn;
        this.#process(conn, message);
        this.#flush();
        if (conn.queued === 0 && !conn.closed) conn.onDrained?.();
      }
    } finally {
      this.#busy = false;
    }
    if (turns.ready.size > 0 || this.#pending.size > 0) turns.schedulePass();
  }

  // The output a fair connection's peer has not read: for a guest, all its connections' together
  // against its memory quota (C counts queued output there and stops reading a guest at it).
  #outputOverLimit(conn: ServerConnection): boolean {
    if (conn.backlog === undefined) return false;
    if (conn.privileged) return conn.backlog() >= this.quotas.global.memory;
    let unread = 0;
    for (const other of this.#byDomain.get(conn.domid) ?? []) unread += other.backlog?.() ?? 0;
    return unread >= this.quotas.limit(conn.domid, 'memory');
  }

  // Delivers output, then serves requests that arrived meanwhile, in order.
  #flush(): void {
    this.#deliver();
    if (this.#queue.length > 0) {
      for (let i = 0; i < this.#queue.length; i++) {
        const [conn, message] = this.#queue[i]!;
        if (!conn.closed) this.#process(conn, message);
        this.#deliver();
      }
      this.#queue = [];
    }
    // Output held back for a fair connection goes out in the next pass.
    if (this.#pending.size > 0) this.#turns.schedulePass();
  }

  // Everything queued for ordinary connections; for fair ones, at most OUTPUT_PER_TURN messages
  // per turn, the rest held for the next.
  #deliver(): void {
    let held: ServerConnection[] | undefined;
    while (this.#pending.size > 0) {
      for (const conn of this.#pending) {
        this.#pending.delete(conn);
        const limit = conn.fair ? OUTPUT_PER_TURN : Number.POSITIVE_INFINITY;
        for (const message of conn.takeOutput(limit)) {
          if (conn.closed) break;
          this.#trace?.message('out', conn, message);
          try {
            conn.onMessage(message);
          } catch (err) {
            this.#disconnect(conn, err instanceof Error ? err : new Error(String(err)));
          }
        }
        if (conn.outbox.length > 0 && !conn.closed) {
          held ??= [];
          held.push(conn);
        }
      }
    }
    if (held) for (const conn of held) this.#pending.add(conn);
  }

  #process(conn: ServerConnection, message: Message): void {
    this.#trace?.message('in', conn, message);
    let reply: Message;
    try {
      reply = replyMessage(message.type, message, this.#handle(conn, message));
      if (reply.payload.length > PAYLOAD_MAX) reply = errorMessage(message, 'E2BIG');
    } catch (err) {
      this.#afterReply = undefined;
      reply = errorMessage(message, errorName(err));
    }
    conn.queueReply(reply);
    const after = this.#afterReply;
    if (after) {
      this.#afterReply = undefined;
      after();
    }
  }

  // C's order: ENOSYS for what is no request (or too new for 4.17), EACCES for a privileged
  // type, ENOENT for an unknown transaction, then the grammar.
  #handle(conn: ServerConnection, message: Message): Uint8Array {
    const type = message.type;
    const entry = requestEntry(type);
    if (entry === undefined || (this.#legacy && entry.row.newerThan417)) {
      throw new XenstoreError('ENOSYS', `type ${type} is not a request`);
    }
    if (!conn.privileged && entry.row.privileged) throw new XenstoreError('EACCES');
    let tx: RequestScope | undefined;
    if (message.txId !== 0 && !entry.row.noTransaction) {
      tx = conn.transactions.get(message.txId);
      if (!tx) throw new XenstoreError('ENOENT', `no transaction ${message.txId}`);
    }
    if (entry.name === 'SET_PERMS') {
      checkPermissionCount(tx ?? conn.scope, requestStrings(message.payload).length - 1);
    }
    const request = decodeRequest(message);
    const handler = this.#handlers[request.op] as (
      conn: ServerConnection,
      tx: RequestScope | undefined,
      request: Request,
    ) => Uint8Array;
    return handler(conn, tx, request);
  }

  readonly #handlers: Handlers = {
    READ: (conn, tx, request) => this.#treeRequest(conn, tx, request),
    DIRECTORY: (conn, tx, request) => this.#treeRequest(conn, tx, request),
    DIRECTORY_PART: (conn, tx, request) => this.#treeRequest(conn, tx, request),
    GET_PERMS: (conn, tx, request) => this.#treeRequest(conn, tx, request),
    WRITE: (conn, tx, request) => this.#treeRequest(conn, tx, request),
    MKDIR: (conn, tx, request) => this.#treeRequest(conn, tx, request),
    RM: (conn, tx, request) => this.#treeRequest(conn, tx, request),
    SET_PERMS: (conn, tx, request) => this.#treeRequest(conn, tx, request),
    WATCH: (conn, _tx, { path, token, depth }) => {
      this.#registry.add(conn, path, token, depth);
      this.#afterReply = () => conn.queueEvent(path, token);
      return OK_PAYLOAD;
    },
    UNWATCH: (conn, _tx, request) => {
      this.#registry.remove(conn, request.path, request.token);
      return OK_PAYLOAD;
    },
    TRANSACTION_START: (conn, tx) => this.#startTransaction(conn, tx),
    TRANSACTION_END: (conn, tx, request) =>
      this.#endTransaction(conn, tx?.transaction, request.commit),
    RESET_WATCHES: (conn) => {
      this.#registry.removeAll(conn);
      conn.transactions.clear();
      return OK_PAYLOAD;
    },
    GET_DOMAIN_PATH: (_conn, _tx, request) => stringPayload(domainPath(request.domid)),
    IS_DOMAIN_INTRODUCED: (_conn, _tx, request) =>
      booleanPayload(request.domid === DOMID_SELF || this.#domains.isIntroduced(request.domid)),
    INTRODUCE: (_conn, _tx, request) => {
      if (request.port <= 0) throw new XenstoreError('EINVAL', 'event channel must be positive');
      this.#introduce(request.domid, BigInt(request.gfn), request.port);
      return OK_PAYLOAD;
    },
    RELEASE: (conn, _tx, request) => {
      const domid = guestDomid(request.domid);
      this.#domains.require(domid);
      if (this.#ringFollows(conn, domid)) this.#afterReply = () => this.#release(domid);
      else this.#release(domid);
      return OK_PAYLOAD;
    },
    RESUME: (_conn, _tx, request) => {
      this.#domains.require(guestDomid(request.domid)).shutdown = false;
      return OK_PAYLOAD;
    },
    SET_TARGET: (_conn, _tx, request) => {
      this.#domains.require(request.target);
      this.#domains.require(request.domid).target = request.target;
      return OK_PAYLOAD;
    },
    CONTROL: (conn, _tx, request) => control(this.#controlHost, conn.id, request.args),
    GET_FEATURE: (conn, _tx, request) => {
      // Open to all: without a domid, the asking domain's features (a privileged socket
      // connection gets the server's); naming a domain is privileged.
      if (request.domid !== undefined && !conn.privileged) throw new XenstoreError('EACCES');
      const domain = request.domid === undefined ? conn.domid : request.domid;
      const features =
        request.domid === undefined && conn.privileged
          ? this.#features
          : (this.#domains.require(domain).features ?? this.#features);
      return stringPayload(String(features));
    },
    SET_FEATURE: (_conn, _tx, request) => {
      if ((request.value & ~this.#features) !== 0) {
        throw new XenstoreError('EINVAL', 'unsupported feature bits');
      }
      this.#domains.require(request.domid).features = request.value;
      return OK_PAYLOAD;
    },
    GET_QUOTA: (_conn, _tx, request) => {
      // Current xenstored answers one string of space-separated names.
      if (request.quota === undefined) return stringPayload(QUOTA_NAMES.join(' '));
      if (request.domid === undefined) {
        return stringPayload(String(this.quotas.global[quotaKey(request.quota)]));
      }
      this.#domains.require(request.domid);
      return stringPayload(String(this.quotas.limit(request.domid, quotaKey(request.quota))));
    },
    SET_QUOTA: (_conn, _tx, request) => {
      if (request.domid === undefined) {
        this.quotas.global[quotaKey(request.quota)] = request.value;
      } else {
        this.#domains.require(request.domid);
        this.quotas.setForDomain(request.domid, quotaKey(request.quota), request.value);
      }
      return OK_PAYLOAD;
    },
  };

  #treeRequest(
    conn: ServerConnection,
    txScope: RequestScope | undefined,
    request: TreeRequest,
  ): Uint8Array {
    const scope = txScope ?? conn.scope;
    if (request.op === 'SET_PERMS') {
      const perms = storedPermissions(scope, request.perms);
      if (isSpecialPath(request.path))
        return this.#setSpecialPermissions(conn, request.path, perms);
      request = { ...request, perms };
    }
    const path = resolvePath(request.path, conn.domid);
    assertValidPath(path, request.op);
    const tx = txScope?.transaction;
    if (tx && messageRow(request.op).readOnly) {
      tx.clientRead = true;
      try {
        return applyTreeRequest(scope, path, request);
      } finally {
        tx.clientRead = false;
      }
    }
    const result = applyTreeRequest(scope, path, request);
    if (tx && tx.policy === 'coalesce') {
      tx.replayLog.push((redo) =>
        applyTreeRequest(new RequestScope(conn, redo, this.#context, redo), path, request),
      );
    }
    return result;
  }

  #setSpecialPermissions(conn: ServerConnection, path: string, perms: NodePermissions): Uint8Array {
    const current = this.#special.get(path);
    if (!current) throw new XenstoreError('EINVAL', 'not a special path with permissions');
    if (!allows(conn, current.perms, Perm.WRITE | Perm.OWNER, current.generation)) {
      throw new XenstoreError('EACCES');
    }
    this.#special.set(path, { perms, generation: this.store.tick() });
    return OK_PAYLOAD;
  }

  #startTransaction(conn: ServerConnection, current: RequestScope | undefined): Uint8Array {
    if (current) throw new XenstoreError('EBUSY', 'transactions do not nest');
    // Counted per domain, compared with `>` as C does: one more than the quota fits.
    if (
      !conn.privileged &&
      this.#openTransactions(conn.domid) > this.quotas.limit(conn.domid, 'transactions')
    ) {
      throw new XenstoreError('ENOSPC', 'transaction quota reached');
    }
    return stringPayload(String(this.#newTransaction(conn, conn.nextTransactionId()).id));
  }

  #newTransaction(conn: ServerConnection, id: number): Transaction {
    const maxNodes = conn.privileged
      ? () => Number.POSITIVE_INFINITY
      : () => this.quotas.limit(conn.domid, 'transactionNodes');
    const domid = conn.domid;
    const charge = conn.privileged
      ? undefined
      : (delta: number) => {
          if (this.#transactionMemory(domid) + delta >= this.quotas.limit(domid, 'memory')) {
            throw new XenstoreError('EIO', 'memory quota reached by transaction data');
          }
        };
    const tx = new Transaction(id, this.store, maxNodes, this.#policy, this.#host, charge);
    conn.transactions.set(id, new RequestScope(conn, tx, this.#context, tx));
    return tx;
  }

  // What a guest's open transactions hold: C counts it against the domain's memory quota.
  #transactionMemory(domid: number): number {
    let bytes = 0;
    for (const conn of this.#byDomain.get(domid) ?? []) {
      for (const scope of conn.transactions.values()) bytes += scope.transaction?.memory ?? 0;
    }
    return bytes;
  }

  #openTransactions(domid: number): number {
    let open = 0;
    for (const other of this.#connections) {
      if (other.domid === domid) open += other.transactions.size;
    }
    return open;
  }

  #endTransaction(
    conn: ServerConnection,
    tx: Transaction | undefined,
    commit: boolean,
  ): Uint8Array {
    if (!tx) throw new XenstoreError('ENOENT', 'no transaction to end');
    conn.transactions.delete(tx.id);
    if (!commit) return OK_PAYLOAD;
    // C's order: a transaction that failed half-way, then node quotas, then conflicts.
    if (tx.failed) throw new XenstoreError('ENOMEM', 'transaction failed earlier');
    if (tx.created && !conn.privileged) {
      for (const [domid, delta] of tx.ownedDelta()) {
        if (this.store.owned(domid) + delta >= this.quotas.limit(domid, 'nodes')) {
          throw new XenstoreError('ENOSPC', `node quota of domain ${domid}`);
        }
      }
    }
    if (!tx.canCommit() || this.#commitFaults.chance(this.#commitFailureRate)) {
      throw new XenstoreError('EAGAIN', 'transaction conflict');
    }
    (tx.policy === 'coalesce' ? this.#replay(tx) : tx).commit((event) => this.#events.fire(event));
    return OK_PAYLOAD;
  }

  // Coalescing commit: the transaction's changes are redone on the current store, atomically.
  #replay(tx: Transaction): Transaction {
    const redo = new Transaction(
      0,
      this.store,
      () => Number.POSITIVE_INFINITY,
      'generation',
      this.#host,
    );
    try {
      for (const change of tx.replayLog) change(redo);
    } catch {
      throw new XenstoreError('EAGAIN', 'transaction no longer applies');
    }
    return redo;
  }

  #introduce(domid: number, gfn: bigint, port: number): void {
    if (this.#domains.introduce(domid, gfn, port)) {
      this.#ringOrder.set(domid, this.#nextConnectionId++);
      this.#events.fire({ path: INTRODUCE_DOMAIN, mode: 'exact', perms: undefined });
      return;
    }
    // Introducing a known domain again resets its ring connection (C's domain_conn_reset): its
    // watches and transactions go. Dom0's connections here are socket-like and keep theirs.
    if (domid === 0) return;
    for (const conn of this.#connections) {
      if (conn.domid === domid && !conn.privileged) {
        this.#registry.removeAll(conn);
        conn.transactions.clear();
      }
    }
  }

  /**
   * Reports a domain as shut down, as the hypervisor does to C xenstored: `@releaseDomain` fires
   * (once, until RESUME). The domain stays introduced until released.
   */
  shutdownDomain(domid: number): void {
    this.#serve(() => {
      const domain = this.#domains.require(domid);
      if (domain.shutdown) return;
      domain.shutdown = true;
      this.#events.fire({ path: RELEASE_DOMAIN, mode: 'exact', perms: undefined });
    });
  }

  /**
   * Whether domain `domid`'s ring connection comes right after `conn` in C's connection list
   * (socket connections and domain connections, in creation order). C's main loop holds a
   * reference on the next connection while serving one, so releasing that very domain only
   * drops the reference: its destruction (node removals, `@releaseDomain`) happens once the
   * RELEASE reply is out.
   */
  #ringFollows(conn: ServerConnection, domid: number): boolean {
    const ring = this.#ringOrder.get(domid);
    if (ring === undefined || ring < conn.id) return false;
    for (const other of this.#connections) {
      if (other.domid === 0 && other.id > conn.id && other.id < ring) return false;
    }
    for (const other of this.#ringOrder.values()) {
      if (other > conn.id && other < ring) return false;
    }
    return true;
  }

  // C's domain destruction: connections (with their watches and transactions) go, then every
  // node the domain owns (firing watches), then @releaseDomain.
  #release(domid: number): void {
    this.#domains.release(domid);
    this.#ringOrder.delete(domid);
    for (const conn of [...this.#connections]) {
      if (conn.domid === domid) this.#disconnect(conn);
    }
    this.#removeOwnedNodes(domid);
    this.quotas.forget(domid);
    this.#registry.forget(domid);
    this.#events.fire({ path: RELEASE_DOMAIN, mode: 'exact', perms: undefined });
  }

  #removeOwnedNodes(domid: number): void {
    if (this.store.owned(domid) === 0) return;
    const dom0 = new RequestScope(
      {
        domid: 0,
        privileged: true,
        target: undefined,
        honours: (domid, generation) => this.#host.honours(domid, generation),
      },
      this.store,
      this.#context,
      undefined,
      true,
    );
    const stack = ['/'];
    while (stack.length > 0 && this.store.owned(domid) > 0) {
      const path = stack.pop()!;
      const node = this.store.get(path);
      if (!node) continue;
      if (node.perms[0]!.domid === domid && path !== '/') {
        removeNode(dom0, path);
        continue;
      }
      const names = node.children.names();
      for (let i = names.length - 1; i >= 0; i--) stack.push(joinPath(path, names[i]!));
    }
  }

  #disconnect(conn: ServerConnection, reason?: Error): void {
    if (conn.closed) return;
    conn.closed = true;
    this.#connections.delete(conn);
    this.#byDomain.get(conn.domid)?.delete(conn);
    if (this.#byDomain.get(conn.domid)?.size === 0) this.#byDomain.delete(conn.domid);
    this.#endpoints.delete(conn);
    this.#pending.delete(conn);
    this.#turns.forget(conn);
    conn.dropInbox();
    this.#registry.removeAll(conn);
    conn.transactions.clear();
    conn.takeOutput();
    try {
      conn.onClose?.(reason);
    } catch {
      // The connection is gone either way; a throwing callback must not stop the server.
    }
  }
}

/** `spec` without the keys it leaves undefined, so they do not hide defaults spread before it. */
function stripUndefined<T extends object>(spec: T): T {
  return Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Messages a fair connection is handed per turn: a request that fans out to many events for one
 * connection (a commit under many watches) does not hold the others while they go out.
 */
const OUTPUT_PER_TURN = 128;

/** RELEASE and RESUME refuse domain 0. */
function guestDomid(domid: number): number {
  if (domid === 0) throw new XenstoreError('EINVAL', 'domain 0 cannot be released or resumed');
  return domid;
}

function errorName(err: unknown): WireErrorName {
  if (err instanceof XenstoreError) {
    return isWireErrorName(err.code) ? err.code : 'EINVAL';
  }
  // A bug of ours must not take the server down: the client sees EIO.
  return 'EIO';
}
