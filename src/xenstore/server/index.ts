/**
 * `xenwire/xenstore` server side: an in-memory xenstored, in-process or on unix sockets.
 *
 * @packageDocumentation
 */
export type { ConnectOptions, XenstoreConnection } from './connection.ts';
export { dom0Tree, guestTree } from './dom0-tree.ts';
export type { Domain, DomainListener, DomainTable } from './domains.ts';
export type { Listener, ListenOptions } from './listen.ts';
export type { DumpedDomain, DumpedNode, StoreDump } from './persistence.ts';
export { DEFAULT_QUOTAS, QUOTA_NAMES, type Quotas, type QuotaTable } from './quota.ts';
export { pageFileMapper } from './ring-page-file.ts';
export { type PageMapper, type RingServerOptions, XenstoreRingServer } from './ring-server.ts';
export { type Served, type ServeOptions, serve } from './serve.ts';
export { type ServerConnectOptions, type ServerOptions, XenstoreServer } from './server.ts';
export type { TraceRecord, TraceSink } from './trace.ts';
export type { ConflictPolicy } from './transactions.ts';
