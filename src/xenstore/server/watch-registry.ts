import { XenstoreError } from '../errors.ts';
import { assertValidWatchPath, isSpecialPath, resolvePath } from '../paths.ts';
import type { ServerConnection } from './connection.ts';
import type { QuotaTable } from './quota.ts';
import type { WatchIndex } from './watches.ts';

/**
 * WATCH, UNWATCH and their bookkeeping: the connection's own watch list (EEXIST/ENOENT by path
 * and token), the store-wide path index, and the per-domain count the watch quota limits.
 */
export class WatchRegistry {
  readonly #perDomain = new Map<number, number>();

  constructor(
    readonly index: WatchIndex,
    readonly quotas: QuotaTable,
  ) {}

  /** Watches held by connections of `domid`. */
  count(domid: number): number {
    return this.#perDomain.get(domid) ?? 0;
  }

  /**
   * Registers a watch; the caller sends the registration event after the reply. A restored watch
   * skips the quota, as C's `read_state_watch` does.
   */
  add(
    conn: ServerConnection,
    path: string,
    token: string,
    depth: number | undefined,
    checkQuota = true,
  ): void {
    // 4.17 knows no watch depth (the WATCHDEPTH feature came later): a third string is EINVAL.
    if (depth !== undefined) throw new XenstoreError('EINVAL', 'watch depth is not supported');
    const relative = !path.startsWith('/') && !isSpecialPath(path);
    const absolute = resolvePath(path, conn.domid);
    assertValidWatchPath(absolute, 'WATCH');
    const key = `${absolute}\0${token}`;
    if (conn.watches.has(key)) throw new XenstoreError('EEXIST', undefined, 'WATCH', path);
    const count = this.count(conn.domid);
    // C compares the count before adding with `>`, so one watch more than the quota fits.
    if (checkQuota && !conn.privileged && count > this.quotas.limit(conn.domid, 'watches')) {
      throw new XenstoreError('E2BIG', 'watch quota reached', 'WATCH', path);
    }
    conn.watches.set(key, this.index.add(conn, absolute, token, relative ? conn.home : undefined));
    this.#perDomain.set(conn.domid, count + 1);
  }

  /** UNWATCH: the exact (path, token) of this connection, else ENOENT. */
  remove(conn: ServerConnection, path: string, token: string): void {
    // C only compares: an invalid path simply matches no watch.
    const key = `${resolvePath(path, conn.domid)}\0${token}`;
    const watch = conn.watches.get(key);
    if (!watch) throw new XenstoreError('ENOENT', undefined, 'UNWATCH', path);
    conn.watches.delete(key);
    this.index.remove(watch);
    this.#perDomain.set(conn.domid, this.count(conn.domid) - 1);
  }

  /** Drops every watch of a connection (RESET_WATCHES, disconnect, re-INTRODUCE). */
  removeAll(conn: ServerConnection): void {
    for (const watch of conn.watches.values()) this.index.remove(watch);
    this.#perDomain.set(conn.domid, Math.max(0, this.count(conn.domid) - conn.watches.size));
    conn.watches.clear();
  }

  /** Forgets a released domain's count. */
  forget(domid: number): void {
    this.#perDomain.delete(domid);
  }
}
