/**
 * `xenwire/xenstore/client`: the xenstore client — {@link XenstoreClient} (pipelined, over any
 * transport of `xenwire/xenstore/transports`), its transactions and watches, and
 * {@link XenstorePool}, which spreads requests over several connections. `xenwire/xenstore`
 * exports all of it too, with the codec and the client ends of the transports.
 *
 * @module xenstore/client
 */

export type { BusyPoll } from '../../event-loop/busy-poller.ts';
export {
  type ReconnectInfo,
  type ReconnectOptions,
  type WatchOptions,
  XenstoreClient,
  type XenstoreClientEvents,
  type XenstoreClientOptions,
} from '../client.ts';
export { XenstorePool, type XenstorePoolOptions } from '../pool.ts';
export type { NodeOperations, ReadOptions, RequestOptions } from './node-operations.ts';
export { Transaction, type TransactionOptions } from './transaction.ts';
export type { WaitCondition, XenstoreWaitOptions } from './wait.ts';
export type { WalkEntry } from './walk.ts';
export { Watch, type WatchEvents, type XenstoreWatchEvent } from './watch.ts';
