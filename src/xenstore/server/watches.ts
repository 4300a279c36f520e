import type { Identity } from './permissions.ts';
import type { FireMode } from './transactions.ts';

/** A connection that can hold watches and receive their events. */
export interface WatchSubscriber extends Identity {
  /** Queues a WATCH_EVENT for this connection. */
  queueEvent(path: string, token: string): void;
}

/** One registered watch. */
export interface Watch {
  readonly subscriber: WatchSubscriber;
  /** The absolute (or `@`) path watched. */
  readonly path: string;
  readonly token: string;
  /** For a watch registered with a relative path: the home prefix to strip from event paths. */
  readonly relativeTo: string | undefined;
  /** Registration order, store-wide: a connection's events follow its watches' order, as in C. */
  readonly seq: number;
}

const NONE: readonly Watch[] = Object.freeze([]);

/**
 * All watches, indexed by watched path so that a change costs a lookup per ancestor of the changed
 * path rather than a scan of every watch.
 */
export class WatchIndex {
  readonly #byPath = new Map<string, Watch[]>();
  // How many watched paths have each length: an ancestor whose length no watched path has needs
  // neither a substring nor a lookup, so unrelated watches cost a write next to nothing.
  readonly #lengths = new Map<number, number>();
  #seq = 0;

  add(
    subscriber: WatchSubscriber,
    path: string,
    token: string,
    relativeTo: string | undefined,
  ): Watch {
    const watch: Watch = { subscriber, path, token, relativeTo, seq: this.#seq++ };
    const list = this.#byPath.get(path);
    if (list) list.push(watch);
    else this.#byPath.set(path, [watch]);
    this.#lengths.set(path.length, (this.#lengths.get(path.length) ?? 0) + 1);
    return watch;
  }

  remove(watch: Watch): void {
    const list = this.#byPath.get(watch.path);
    if (!list) return;
    const at = list.indexOf(watch);
    if (at < 0) return;
    list.splice(at, 1);
    if (list.length === 0) this.#byPath.delete(watch.path);
    const count = this.#lengths.get(watch.path.length)! - 1;
    if (count === 0) this.#lengths.delete(watch.path.length);
    else this.#lengths.set(watch.path.length, count);
  }

  /**
   * Watches a change of `path` fires: in `tree` mode those on the path or any ancestor
   * (component-wise), in `exact` mode those on the path itself (nodes inside a removed subtree).
   * Sorted by registration.
   */
  matching(path: string, mode: FireMode): readonly Watch[] {
    if (this.#byPath.size === 0) return NONE;
    const own = this.#lengths.has(path.length) ? this.#byPath.get(path) : undefined;
    if (mode === 'exact' || path.charCodeAt(0) !== 0x2f) return own ?? NONE;
    let found: Watch[] | undefined = own ? own.slice() : undefined;
    let sources = own ? 1 : 0;
    for (let cut = path.lastIndexOf('/'); cut >= 0; cut = path.lastIndexOf('/', cut - 1)) {
      if (cut === 0 && path.length === 1) break;
      const length = cut === 0 ? 1 : cut;
      const list = this.#lengths.has(length)
        ? this.#byPath.get(cut === 0 ? '/' : path.slice(0, cut))
        : undefined;
      if (list) {
        if (found) found.push(...list);
        else found = list.slice();
        sources++;
      }
      if (cut === 0) break;
    }
    if (!found) return NONE;
    if (sources > 1) found.sort((a, b) => a.seq - b.seq);
    return found;
  }
}
