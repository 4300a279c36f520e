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
    return watch;
  }

  remove(watch: Watch): void {
    const list = this.#byPath.get(watch.path);
    if (!list) return;
    const at = list.indexOf(watch);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.#byPath.delete(watch.path);
  }

  /**
   * Watches a change of `path` fires: in `tree` mode those on the path or any ancestor
   * (component-wise), in `exact` mode those on the path itself (nodes inside a removed subtree).
   * Sorted by registration.
   */
  matching(path: string, mode: FireMode): readonly Watch[] {
    if (this.#byPath.size === 0) return NONE;
    const own = this.#byPath.get(path);
    if (mode === 'exact' || path.charCodeAt(0) !== 0x2f) return own ?? NONE;
    let found: Watch[] | undefined = own ? own.slice() : undefined;
    let sources = own ? 1 : 0;
    for (let cut = path.lastIndexOf('/'); cut >= 0; cut = path.lastIndexOf('/', cut - 1)) {
      const ancestor = cut === 0 ? '/' : path.slice(0, cut);
      if (ancestor === path) break;
      const list = this.#byPath.get(ancestor);
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
