/**
 * `xenwire/xenstore/server`: an in-memory xenstored with C 4.17's semantics
 * ({@link XenstoreServer}), its migration stream, fault injection, and {@link serve}, which puts
 * it together with the server ends of the transports. Those ends — unix sockets
 * ({@link "xenstore/transports".socketListener | socketListener}), ring pages
 * ({@link "xenstore/transports".XenstoreRingServer | XenstoreRingServer}) — are documented with
 * {@link "xenstore/transports" | xenwire/xenstore/transports} and exported here too. In-process
 * clients connect with `inProcessConnector` of `xenwire/xenstore`.
 *
 * @packageDocumentation
 */
export {
  type FaultDirection,
  type FaultPlan,
  type FaultRange,
  type FaultRecord,
  type FaultSpec,
  FaultSpecError,
  type InjectRule,
  parseFaultSpec,
} from './faults/index.ts';
export { type Served, type ServeOptions, serve } from './serve.ts';
export { dom0Tree, guestTree } from './server/dom0-tree.ts';
export type { DumpStreamOptions, RestoredConnection } from './server/migration.ts';
export {
  type ConnectionRecord,
  decodeMigrationStream,
  encodeMigrationStream,
  type GlobalRecord,
  type MigrationRecord,
  type MigrationStream,
  MigrationStreamError,
  type NodeRecord,
  type PendingData,
  type StreamPermission,
  type TransactionRecord,
  type UnknownRecord,
  type WatchRecord,
} from './server/migration-stream.ts';
export type { DumpedDomain, DumpedNode, StoreDump } from './server/persistence.ts';
export { DEFAULT_QUOTAS, QUOTA_NAMES, type Quotas } from './server/quota.ts';
export { type ServerOptions, XenstoreServer } from './server/server.ts';
export type { TraceRecord, TraceSink } from './server/trace.ts';
export type { ConflictPolicy } from './server/transactions.ts';
export {
  type ConnectOptions,
  type DomainDirectory,
  type Listener,
  type ListenOptions,
  type PageMapper,
  pageFileMapper,
  type RingServerOptions,
  type ServedDomain,
  type ServerConnectOptions,
  socketListener,
  type XenstoreConnection,
  XenstoreRingServer,
  type XenstoreService,
} from './transport/index.ts';
