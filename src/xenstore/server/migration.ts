import { PAYLOAD_MAX } from '../constants.ts';
import { XenstoreError } from '../errors.ts';
import { isSpecialPath, joinPath, parentPath, pathProblem } from '../paths.ts';
import { decodeMessage, encodeMessage, type Message } from '../wire.ts';
import type { ServerConnection } from './connection.ts';
import type { DomainTable } from './domains.ts';
import type { SpecialPermissions } from './events.ts';
import {
  type ConnectionRecord,
  DOMID_INVALID,
  decodeMigrationStream,
  encodeMigrationStream,
  type GlobalRecord,
  type MigrationRecord,
  MigrationStreamError,
  NodeAccess,
  type NodeRecord,
  type StreamPermission,
} from './migration-stream.ts';
import { EMPTY_VALUE, type Node, type NodePermissions, newNode } from './node.ts';
import type { Store } from './store.ts';
import type { Transaction, TransactionTouch } from './transactions.ts';
import type { WatchRegistry } from './watch-registry.ts';

/**
 * Options of `server.dumpMigrationStream()`.
 * @category Migration
 */
export interface DumpStreamOptions {
  /**
   * The GLOBAL record's file descriptors. Default: those of the stream the server was loaded
   * from, else -1 (none).
   */
  readonly global?: {
    /** The listening socket a live-updated C daemon inherits (-1: none). */
    readonly socketFd: number;
    /** The `/dev/xen/evtchn` handle it inherits (-1: none). */
    readonly evtchnFd: number;
  };
  /** Write the stream big-endian (default little, as x86 C xenstored writes it). */
  readonly bigEndian?: boolean;
}

/**
 * A connection a migration stream brought in, not yet resumed by a transport.
 * @category Migration
 */
export interface RestoredConnection {
  /** The stream's connection id; name it to `resumeConnection`. */
  readonly connId: number;
  /** A guest's ring (resume it with a ring transport) or a unix-socket client. */
  readonly kind: 'ring' | 'socket';
  /** The domain the connection speaks for (0 for dom0's socket clients). */
  readonly domid: number;
  /** The socket's file descriptor in the process that wrote the stream (sockets only). */
  readonly fd?: number;
}

/** What a connection was in the stream it came from, and what waits for it until resumed. */
export class StreamEndpoint {
  /** Replies and events that arrived while nobody held the connection. */
  queued: Message[] = [];
  queuedBytes = 0;
  handler: ((message: Message) => void) | undefined;
  closer: ((reason?: Error) => void) | undefined;

  constructor(
    readonly connId: number,
    readonly kind: 'ring' | 'socket',
    /** A socket's file descriptor, or a ring's event channel, in the stream's writer. */
    readonly handle: number,
    /** A request's first bytes, read but not yet complete. */
    public input: Uint8Array,
    public partialResponse: number,
    /** Output not yet sent, as wire bytes. */
    public output: Uint8Array,
  ) {}

  get resumed(): boolean {
    return this.handler !== undefined;
  }

  deliver(message: Message): void {
    if (this.handler) {
      this.handler(message);
      return;
    }
    // Nobody may ever resume this connection: keep what a stalled guest would be allowed.
    const size = 16 + message.payload.length;
    if (this.queuedBytes + size > PARKED_OUTPUT_MAX) return;
    this.queued.push(message);
    this.queuedBytes += size;
  }

  /** The output a dump records: the stream's own, then what arrived since. */
  pendingOutput(): Uint8Array {
    if (this.queued.length === 0) return this.output;
    return Buffer.concat([this.output, ...this.queued.map((m) => encodeMessage(m))]);
  }

  /** Whole messages of the stream's pending output (a partly sent one cannot be finished). */
  takeOutput(): Message[] {
    const messages: Message[] = [];
    let at = this.partialResponse;
    const bytes = Buffer.from(this.output);
    while (at + 16 <= bytes.length) {
      const length = bytes.readUInt32LE(at + 12);
      if (length > PAYLOAD_MAX || at + 16 + length > bytes.length) break;
      messages.push(decodeMessage(bytes.subarray(at, at + 16 + length)));
      at += 16 + length;
    }
    messages.push(...this.queued);
    this.output = EMPTY_VALUE;
    this.partialResponse = 0;
    this.queued = [];
    this.queuedBytes = 0;
    return messages;
  }

  /** The pending request, if the stream held a whole one. */
  takeInput(): Message | undefined {
    const bytes = Buffer.from(this.input);
    this.input = EMPTY_VALUE;
    if (bytes.length < 16) return undefined;
    const length = bytes.readUInt32LE(12);
    if (length > PAYLOAD_MAX || bytes.length !== 16 + length) return undefined;
    return decodeMessage(bytes);
  }
}

// What C's default memory quota lets a guest's unread output grow to.
const PARKED_OUTPUT_MAX = 2 * 1024 * 1024;

/** What the server lends the stream code: its state, and a way to open connections. */
export interface MigrationHost {
  readonly store: Store;
  readonly domains: DomainTable;
  readonly special: Map<string, SpecialPermissions>;
  readonly registry: WatchRegistry;
  /** Open connections in creation order, with what the stream knows about each. */
  connections(): Iterable<ServerConnection>;
  endpoint(conn: ServerConnection): StreamEndpoint | undefined;
  /** A connection held by nobody yet, whose output goes to `endpoint`. */
  park(domid: number, endpoint: StreamEndpoint): ServerConnection;
  /** Opens transaction `txId` on `conn`. */
  startTransaction(conn: ServerConnection, txId: number): Transaction;
  /** The GLOBAL record of the stream loaded, if any. */
  global: GlobalRecord | undefined;
}

/** The state of `host` as a migration stream, in C xenstored 4.17's record order. */
export function dumpStream(host: MigrationHost, options: DumpStreamOptions = {}): Uint8Array {
  const records: MigrationRecord[] = [];
  const global = options.global ?? host.global;
  records.push({
    type: 'global',
    socketFd: global?.socketFd ?? -1,
    evtchnFd: global?.evtchnFd ?? -1,
  });
  const ids = connectionIds(host);
  const transactions: [number, Transaction][] = [];
  const withConnection = new Set<number>();
  for (const [conn, connId] of ids) {
    records.push(connectionRecord(host, conn, connId));
    if (conn.domid !== 0) withConnection.add(conn.domid);
    for (const watch of conn.watches.values()) {
      const path = watch.relativeTo ? watch.path.slice(watch.relativeTo.length) : watch.path;
      records.push({ type: 'watch', connId, path, token: watch.token });
    }
    for (const [txId, scope] of conn.transactions) {
      records.push({ type: 'transaction', connId, txId });
      transactions.push([connId, scope.transaction!]);
    }
  }
  // A domain nobody serves yet still has its ring in C, hence a connection record.
  let nextId = Math.max(0, ...ids.values()) + 1;
  for (const domain of host.domains.all()) {
    if (domain.domid === 0 || withConnection.has(domain.domid)) continue;
    records.push({
      type: 'connection',
      connId: nextId++,
      kind: 'ring',
      domid: domain.domid,
      targetDomid: domain.target ?? DOMID_INVALID,
      port: domain.port,
      input: EMPTY_VALUE,
      partialResponse: 0,
      output: EMPTY_VALUE,
    });
  }
  // C writes @releaseDomain before @introduceDomain.
  for (const path of [...host.special.keys()].reverse()) {
    records.push(nodeRecord(path, EMPTY_VALUE, host.special.get(path)!.perms));
  }
  const stack = ['/'];
  while (stack.length > 0) {
    const path = stack.pop()!;
    const node = host.store.get(path)!;
    records.push(nodeRecord(path, node.value, node.perms));
    const names = node.children.names();
    for (let i = names.length - 1; i >= 0; i--) stack.push(joinPath(path, names[i]!));
  }
  for (const [connId, tx] of transactions) {
    for (const [path, touch] of tx.touches()) {
      records.push(transactionNodeRecord(connId, tx.id, path, touch));
    }
  }
  return encodeMigrationStream({ bigEndian: options.bigEndian ?? false, records });
}

function connectionIds(host: MigrationHost): Map<ServerConnection, number> {
  const ids = new Map<ServerConnection, number>();
  const taken = new Set<number>();
  for (const conn of host.connections()) {
    const id = host.endpoint(conn)?.connId;
    if (id !== undefined) taken.add(id);
  }
  let next = 1;
  for (const conn of host.connections()) {
    let id = host.endpoint(conn)?.connId;
    if (id === undefined) {
      while (taken.has(next)) next++;
      id = next++;
    }
    ids.set(conn, id);
  }
  return ids;
}

function connectionRecord(
  host: MigrationHost,
  conn: ServerConnection,
  connId: number,
): ConnectionRecord {
  const endpoint = host.endpoint(conn);
  const pending = {
    input: endpoint?.input ?? EMPTY_VALUE,
    partialResponse: endpoint?.partialResponse ?? 0,
    output: endpoint?.pendingOutput() ?? EMPTY_VALUE,
  };
  const kind = endpoint?.kind ?? (conn.domid === 0 ? 'socket' : 'ring');
  if (kind === 'socket') {
    return { type: 'connection', connId, kind, fd: endpoint?.handle ?? -1, ...pending };
  }
  const domain = host.domains.get(conn.domid);
  return {
    type: 'connection',
    connId,
    kind,
    domid: conn.domid,
    targetDomid: domain?.target ?? DOMID_INVALID,
    port: conn.domid === 0 ? (endpoint?.handle ?? 0) : (domain?.port ?? 0),
    ...pending,
  };
}

function streamPerms(perms: NodePermissions): StreamPermission[] {
  return perms.map((p) => ({ access: p.access, domid: p.domid, ignored: p.ignored === true }));
}

function nodeRecord(path: string, value: Uint8Array, perms: NodePermissions): NodeRecord {
  return { type: 'node', connId: 0, txId: 0, access: 0, path, value, perms: streamPerms(perms) };
}

// A node a transaction touched: its copy (WRITTEN when changed), or no permissions when it is
// missing there, READ telling "was already missing" from "deleted by the transaction".
function transactionNodeRecord(
  connId: number,
  txId: number,
  path: string,
  touch: TransactionTouch,
): NodeRecord {
  const node = touch.local ?? undefined;
  return {
    type: 'node',
    connId,
    txId,
    access: touch.modified ? NodeAccess.WRITTEN : NodeAccess.READ,
    path,
    value: node?.value ?? EMPTY_VALUE,
    perms: node ? streamPerms(node.perms) : [],
  };
}

/**
 * Replaces the host's tree, special permissions, watches and transactions with a stream's, as C
 * xenstored's `lu_read_state` does. Ring connections introduce their domains; every connection
 * is parked until a transport resumes it. Anything inconsistent (a node before its parent, a
 * watch of an unknown connection) is a {@link MigrationStreamError} naming the record's offset.
 */
export function restoreStream(host: MigrationHost, bytes: Uint8Array): void {
  const { records, offsets } = decodeWithOffsets(bytes);
  const conns = new Map<number, ServerConnection>();
  const txs = new Map<string, Transaction>();
  host.store.clear();
  records.forEach((record, i) => {
    const at = offsets[i]!;
    const fail = (detail: string): never => {
      throw new MigrationStreamError('EINVAL', at, detail);
    };
    switch (record.type) {
      case 'global':
        host.global = record;
        return;
      case 'connection': {
        if (conns.has(record.connId)) fail(`connection id ${record.connId} used twice`);
        conns.set(record.connId, restoreConnection(host, record));
        return;
      }
      case 'watch': {
        const conn = conns.get(record.connId) ?? fail(`watch of unknown connection`);
        try {
          host.registry.add(conn, record.path, record.token, undefined, false);
        } catch (err) {
          fail(`watch ${record.path}: ${(err as Error).message}`);
        }
        return;
      }
      case 'transaction': {
        const conn = conns.get(record.connId) ?? fail(`transaction of unknown connection`);
        if (conn.transactions.has(record.txId)) fail(`transaction ${record.txId} twice`);
        txs.set(`${record.connId}/${record.txId}`, host.startTransaction(conn, record.txId));
        return;
      }
      case 'node':
        if (record.connId === 0) restoreNode(host, record, fail);
        else {
          const tx =
            txs.get(`${record.connId}/${record.txId}`) ?? fail('node of unknown transaction');
          restoreTouch(tx, record, fail);
        }
        return;
      case 'unknown':
        // C skips record types it does not know.
        return;
    }
  });
  if (!host.store.get('/')) throw new MigrationStreamError('EINVAL', bytes.length, 'no root node');
  for (const tx of txs.values()) tx.settleRestored();
}

function decodeWithOffsets(bytes: Uint8Array): { records: MigrationRecord[]; offsets: number[] } {
  const stream = decodeMigrationStream(bytes);
  const offsets: number[] = [];
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  let at = 16;
  for (let i = 0; i < stream.records.length; i++) {
    offsets.push(at);
    const length = stream.bigEndian ? view.readUInt32BE(at + 4) : view.readUInt32LE(at + 4);
    at += 8 + length;
  }
  return { records: [...stream.records], offsets };
}

function restoreConnection(host: MigrationHost, record: ConnectionRecord): ServerConnection {
  const endpoint = new StreamEndpoint(
    record.connId,
    record.kind,
    record.kind === 'socket' ? record.fd : record.port,
    record.input,
    record.partialResponse,
    record.output,
  );
  if (record.kind === 'socket') return host.park(0, endpoint);
  const { domid } = record;
  if (domid !== 0 && !host.domains.get(domid)) {
    // C's introduce_domain for a restored ring: no @introduceDomain (nobody watches yet).
    host.domains.introduce(domid, 0n, record.port);
  }
  // C 4.17 links the target's connection, which a domain restored later does not have yet: the
  // target is then lost (the old daemon had it). Done alike, so a loaded stream behaves the same.
  if (record.targetDomid !== DOMID_INVALID && domid !== 0 && host.domains.get(record.targetDomid)) {
    host.domains.get(domid)!.target = record.targetDomid;
  }
  return host.park(domid, endpoint);
}

function nodePermissions(perms: readonly StreamPermission[]): NodePermissions {
  return Object.freeze(
    perms.map(({ access, domid, ignored }) =>
      ignored ? { access, domid, ignored } : { access, domid },
    ),
  );
}

function restoreNode(host: MigrationHost, record: NodeRecord, fail: (d: string) => never): void {
  const { path } = record;
  if (isSpecialPath(path)) {
    // C only keeps the permissions of the special paths it knows.
    if (host.special.has(path)) {
      host.special.set(path, {
        perms: nodePermissions(record.perms),
        generation: host.store.tick(),
      });
    }
    return;
  }
  const problem = path === '/' ? undefined : pathProblem(path);
  if (problem || !path.startsWith('/')) fail(`node path ${JSON.stringify(path)}: ${problem}`);
  if (host.store.get(path)) fail(`node ${path} twice`);
  if (path !== '/' && !host.store.has(parentPath(path))) fail(`node ${path} before its parent`);
  host.store.add(path, newNode(record.value, nodePermissions(record.perms)));
}

function restoreTouch(tx: Transaction, record: NodeRecord, fail: (d: string) => never): void {
  const modified = (record.access & NodeAccess.WRITTEN) !== 0;
  let local: Node | null | undefined;
  if (record.perms.length > 0) local = newNode(record.value, nodePermissions(record.perms));
  else local = modified || (record.access & NodeAccess.READ) === 0 ? null : undefined;
  try {
    tx.restoreTouch(record.path, local, modified || local === null);
  } catch (err) {
    fail(`transaction node ${record.path}: ${(err as Error).message}`);
  }
}

/**
 * Live update in place: the state goes through a stream and back, the open connections staying
 * attached (C keeps their file descriptors across the exec). What a dump cannot carry is lost as
 * in C's live update: transactions restart their conflict checks from the restored state.
 */
export function restoreInPlace(host: MigrationHost, stream: Uint8Array): void {
  const byId = new Map<number, ServerConnection>();
  for (const [conn, id] of connectionIds(host)) byId.set(id, conn);
  for (const conn of host.connections()) {
    host.registry.removeAll(conn);
    conn.transactions.clear();
  }
  const inPlace: MigrationHost = Object.create(host);
  inPlace.park = (domid, endpoint) => byId.get(endpoint.connId) ?? host.park(domid, endpoint);
  restoreStream(inPlace, stream);
}

/** The stream's connections nobody has resumed yet. */
export function restoredConnections(host: MigrationHost): RestoredConnection[] {
  const out: RestoredConnection[] = [];
  for (const conn of host.connections()) {
    const endpoint = host.endpoint(conn);
    if (!endpoint || endpoint.resumed) continue;
    out.push({
      connId: endpoint.connId,
      kind: endpoint.kind,
      domid: conn.domid,
      ...(endpoint.kind === 'socket' ? { fd: endpoint.handle } : {}),
    });
  }
  return out;
}

/** The parked connection with stream id `connId`, or ENOENT. */
export function parkedConnection(host: MigrationHost, connId: number): ServerConnection {
  for (const conn of host.connections()) {
    const endpoint = host.endpoint(conn);
    if (endpoint && !endpoint.resumed && endpoint.connId === connId) return conn;
  }
  throw new XenstoreError('ENOENT', `no restored connection ${connId} waiting to be resumed`);
}
