import { NodeOperations, type RequestOptions } from './client/node-operations.ts';
import type { Transaction, TransactionOptions } from './client/transaction.ts';
import { type WaitCondition, waitUntil, type XenstoreWaitOptions } from './client/wait.ts';
import type { Watch } from './client/watch.ts';
import { type WatchOptions, XenstoreClient, type XenstoreClientOptions } from './client.ts';
import { XenstoreError } from './errors.ts';
import { messageRow } from './messages.ts';
import type { ReplyValue } from './replies.ts';
import type { Request } from './requests.ts';

/**
 * How a pool connects: what every member client gets, plus how many members.
 * @category Client
 */
export interface XenstorePoolOptions extends XenstoreClientOptions {
  /** Connections in the pool, 1 … 64 (default 4). */
  readonly size?: number;
}

const DEFAULT_SIZE = 4;
const MAX_SIZE = 64;

/**
 * Several connections to one xenstored behind the node operations of a single client.
 *
 * A xenstored serves each connection one message at a time — the C daemon reads one request per
 * connection per turn of its poll loop — so one connection caps the throughput of requests in
 * flight however many are pipelined on it. A pool spreads reads over its connections (to the
 * one with the fewest waiting) and keeps the ordering a program relies on: a request that
 * changes the store (write, mkdir, rm, set permissions, a whole transaction) goes to one
 * connection, and every request made before it has finished follows it there. So a request
 * always observes the changes this pool made before it was sent; what the pool does not promise
 * is that a read sent *before* a change misses it (as with two clients).
 *
 * Watches live on one member each; their events arrive independently of the replies of other
 * members, so a change made through the pool may resolve before its watch event is delivered
 * (on one client, the event of a client's own watch comes first). Domain, control and quota
 * requests are not offered: use a {@link XenstoreClient}.
 *
 * ```ts
 * await using pool = await XenstorePool.connect({ size: 4 });
 * const names = await Promise.all(domids.map((id) => pool.readString(`/local/domain/${id}/name`)));
 * ```
 * @category Client
 */
export class XenstorePool extends NodeOperations implements AsyncDisposable {
  readonly #members: readonly XenstoreClient[];
  /** The member carrying unfinished changes; -1 when none is. */
  #pinned = -1;
  #changes = 0;
  #next = 0;

  private constructor(members: XenstoreClient[]) {
    super();
    this.#members = members;
  }

  /**
   * Opens `size` connections; rejects with `EINVAL` for a bad size, or with the first
   * connection's failure (the others are closed then).
   */
  static async connect(options: XenstorePoolOptions = {}): Promise<XenstorePool> {
    const size = options.size ?? DEFAULT_SIZE;
    if (!Number.isInteger(size) || size < 1 || size > MAX_SIZE) {
      throw new XenstoreError('EINVAL', `pool size ${size} is not an integer in 1 … ${MAX_SIZE}`);
    }
    const opened = await Promise.allSettled(
      Array.from({ length: size }, () => XenstoreClient.connect(options)),
    );
    const members = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failure = opened.find((r) => r.status === 'rejected');
    if (failure) {
      await Promise.all(members.map((member) => member.close()));
      throw failure.reason;
    }
    return new XenstorePool(members);
  }

  /** Connections in the pool. */
  get size(): number {
    return this.#members.length;
  }

  /** Requests sent through the pool and not yet answered. */
  get pendingRequests(): number {
    return this.#members.reduce((sum, member) => sum + member.pendingRequests, 0);
  }

  protected exchange<R extends Request>(
    request: R,
    options: RequestOptions | undefined,
  ): Promise<ReplyValue<R['op']>> {
    // A read-only request changes nothing on the server: any member may carry it, in any order.
    return this.#carry(!messageRow(request.op).readOnly, (member) =>
      NodeOperations.exchangeThrough(member, request, options),
    );
  }

  /** Registers a watch on one member; see {@link XenstoreClient.watch}. */
  watch(path: string, options?: WatchOptions): Promise<Watch> {
    return this.#carry(false, (member) => member.watch(path, options));
  }

  /** Resolves once `condition` holds for the node at `path`; see {@link XenstoreClient.wait}. */
  wait(
    path: string,
    condition?: WaitCondition,
    options?: XenstoreWaitOptions,
  ): Promise<Buffer | undefined> {
    return waitUntil(this, path, condition, options);
  }

  /**
   * Runs `body` in a transaction on one member, with that member's retries; see
   * {@link XenstoreClient.transaction}. It counts as a change from start to end.
   */
  transaction<T>(body: (tx: Transaction) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return this.#carry(true, (member) => member.transaction(body, options));
  }

  /** Closes every connection; pending requests reject with `ECONNRESET`. */
  async close(): Promise<void> {
    await Promise.all(this.#members.map((member) => member.close()));
  }

  /** Closes the pool (`await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #carry<T>(changes: boolean, send: (member: XenstoreClient) => Promise<T>): Promise<T> {
    const index = this.#pinned >= 0 ? this.#pinned : this.#leastLoaded();
    let sent: Promise<T>;
    try {
      sent = send(this.#members[index]!);
    } catch (error) {
      return Promise.reject(error);
    }
    if (changes) {
      this.#pinned = index;
      this.#changes++;
      const settle = (): void => {
        if (--this.#changes === 0) this.#pinned = -1;
      };
      sent.then(settle, settle);
    }
    return sent;
  }

  /** The member with the fewest requests waiting, taking turns among equals. */
  #leastLoaded(): number {
    const members = this.#members;
    const start = this.#next;
    this.#next = (start + 1) % members.length;
    let best = start;
    for (let k = 1; k < members.length; k++) {
      const i = (start + k) % members.length;
      if (members[i]!.pendingRequests < members[best]!.pendingRequests) best = i;
    }
    return best;
  }
}
