import { parentPath } from '../paths.ts';
import type { Node, NodePermissions } from './node.ts';
import { Perm, permFor } from './permissions.ts';
import type { Store } from './store.ts';
import type { PendingEvent } from './transactions.ts';
import type { WatchIndex, WatchSubscriber } from './watches.ts';

/** The special paths whose events depend on domains coming and going. */
export const INTRODUCE_DOMAIN = '@introduceDomain';
export const RELEASE_DOMAIN = '@releaseDomain';

/**
 * The permissions of `@introduceDomain` or `@releaseDomain` and the generation they were set at:
 * C keeps them as nodes, so their entries lapse with their domains as a node's do.
 */
export interface SpecialPermissions {
  readonly perms: NodePermissions;
  readonly generation: number;
}

/**
 * Turns changes into WATCH_EVENT messages for the matching watches, applying C's visibility rules:
 * guests see an event only if they may read the node or its parent (or the given permissions,
 * e.g. the old ones of a SET_PERMS), and special events only if the special path's permissions
 * let them read.
 */
export class EventDispatcher {
  constructor(
    readonly store: Store,
    readonly watches: WatchIndex,
    /** Permissions of `@introduceDomain` and `@releaseDomain`, changed by SET_PERMS. */
    readonly specialPerms: Map<string, SpecialPermissions>,
  ) {}

  /** Fires the watches a change to `event.path` concerns; `node` is the node if still at hand. */
  fire(event: PendingEvent, node?: Node): void {
    const watches = this.watches.matching(event.path, event.mode);
    if (watches.length === 0) return;
    const special = this.specialPerms.get(event.path);
    for (const watch of watches) {
      const who = watch.subscriber;
      if (special) {
        if (!(permFor(who, special.perms, special.generation) & Perm.READ)) continue;
      } else if (!who.privileged && !this.#visible(who, event, node)) {
        continue;
      }
      let path = event.path;
      if (watch.relativeTo !== undefined && path.startsWith(watch.relativeTo)) {
        path = path.slice(watch.relativeTo.length);
        if (path.charCodeAt(0) === 0x2f) path = path.slice(1);
      }
      who.queueEvent(path, watch.token);
    }
  }

  // C's `watch_permitted`.
  #visible(who: WatchSubscriber, event: PendingEvent, node: Node | undefined): boolean {
    if (event.perms && permFor(who, event.perms) & Perm.READ) return true;
    const subject = node ?? this.store.get(event.path);
    if (!subject) return false;
    if (permFor(who, subject.perms, subject.generation) & Perm.READ) return true;
    const parent = this.store.get(parentPath(event.path));
    return (
      parent !== undefined && (permFor(who, parent.perms, parent.generation) & Perm.READ) !== 0
    );
  }
}
