import { XenstoreError } from '../errors.ts';
import { baseName, parentPath } from '../paths.ts';
import { ChildList } from './child-list.ts';
import {
  copyNode,
  NO_GENERATION,
  type Node,
  type NodePermissions,
  ownerOf,
  recordSize,
} from './node.ts';
import { type Identity, settledPermissions } from './permissions.ts';
import type { NodeAccess, Store } from './store.ts';

/** Bytes C adds to a transaction's record key in front of the path. */
const TX_KEY_PREFIX = 3;

/** How a queued watch event matches watches (see `WatchIndex.matching`). */
export type FireMode = 'tree' | 'exact';

/** A watch event a transaction holds back until it commits. */
export interface PendingEvent {
  readonly path: string;
  readonly mode: FireMode;
  /** Permissions that also let a guest see the event (a deleted node's or the old ones). */
  readonly perms: NodePermissions | undefined;
}

/** What a transaction knows about one node it touched. */
interface Touch {
  /** Verify at commit that the global node still has `generation` (false for blind writes). */
  checkGeneration: boolean;
  generation: number;
  /**
   * The transaction's copy; `null` when deleted in it, `undefined` when it was missing when first
   * touched. Either way the node stays missing for the transaction, even if it appears outside.
   */
  local: Node | null | undefined;
  /** The node's permissions when first touched: they decide who sees its event at commit. */
  originalPerms: NodePermissions | undefined;
  modified: boolean;
  /** The watch event to fire at commit, if any. */
  fire: FireMode | undefined;
}

/** A touched node as a migration stream records it. */
export interface TransactionTouch {
  /** The transaction's copy; `null` when deleted in it, `undefined` when missing when touched. */
  readonly local: Node | null | undefined;
  readonly modified: boolean;
}

/**
 * How conflicts are detected at commit.
 * @category Server
 */
export type ConflictPolicy =
  /** C xenstored 4.17: every node touched, read or written, must be unchanged. */
  | 'generation'
  /**
   * oxenstored-like coalescing: only nodes the client read (READ, DIRECTORY, GET_PERMS,
   * DIRECTORY_PART) must be unchanged; the transaction's changes are replayed onto the current
   * store, so blind writes never conflict.
   */
  | 'coalesce';

/**
 * One open transaction, after C xenstored 4.17 (`xenstored_transaction.c`): not a snapshot of the
 * whole store, but a private copy of each node taken when first touched, with its generation
 * recorded; nodes touched later are taken in their state at that time.
 */
export class Transaction implements NodeAccess {
  readonly #touched = new Map<string, Touch>();
  readonly #ownedDelta = new Map<number, number>();
  /** Changes to replay under the coalescing policy, in order. */
  readonly replayLog: ((redo: Transaction) => void)[] = [];
  /** Set while a request that only reads is being served (coalescing checks only those). */
  clientRead = false;
  /** Bytes of the changed copies this transaction holds, as C accounts them (see {@link put}). */
  memory = 0;
  readonly #memoryOf = new Map<string, number>();
  /** When the transaction started (ms since the epoch): live update reports long-running ones. */
  readonly startedAt = Date.now();

  constructor(
    readonly id: number,
    readonly store: Store,
    /**
     * Nodes this transaction may touch: the quota as it is now, which may change while the
     * transaction is open (Infinity for privileged connections).
     */
    readonly maxNodes: () => number,
    readonly policy: ConflictPolicy,
    /** Judges which permission entries still count (see `Identity.honours`). */
    readonly domains: Pick<Identity, 'honours'>,
    /**
     * Called before a changed copy makes the transaction hold `delta` more bytes; throws when its
     * domain may not hold them.
     */
    readonly charge: (delta: number) => void = () => {},
  ) {}

  /**
   * Set when a change failed half-way (a quota hit inside the transaction): C cannot undo it and
   * answers the commit with ENOMEM.
   */
  failed = false;
  /**
   * True once a request of the transaction set out to create a node, even if a quota then
   * refused it (C's `ta_node_created`): the commit re-checks node quotas.
   */
  created = false;

  get(path: string): Node | undefined {
    const touch = this.#touched.get(path);
    if (touch) return touch.local ?? undefined;
    const global = this.store.get(path);
    if (this.#touched.size >= this.maxNodes()) {
      this.failed = true;
      throw new XenstoreError('ENOSPC', 'too many nodes in transaction');
    }
    const local = global ? copyNode(global) : undefined;
    this.#touched.set(path, {
      checkGeneration: this.policy === 'generation' || this.clientRead,
      generation: global ? global.generation : NO_GENERATION,
      local,
      originalPerms: global && settledPermissions(this.domains, global.perms, global.generation),
      modified: false,
      fire: undefined,
    });
    return local;
  }

  put(path: string, node: Node): void {
    const touch = this.#touch(path);
    // C writes a changed copy as a record keyed by the path behind the transaction's generation
    // and counts both against the domain's memory.
    const bytes = recordSize(node) + path.length + TX_KEY_PREFIX;
    const delta = bytes - (this.#memoryOf.get(path) ?? 0);
    if (delta > 0) this.charge(delta);
    this.#memoryOf.set(path, bytes);
    this.memory += delta;
    const before = touch.local ?? undefined;
    if (before !== node) {
      if (before) this.#count(ownerOf(before), -1);
      this.#count(ownerOf(node), 1);
    }
    // Changed copies get a new generation at once, as in C, so DIRECTORY_PART inside the
    // transaction sees the change.
    node.generation = this.store.tick();
    touch.local = node;
    touch.modified = true;
  }

  remove(path: string): void {
    const touch = this.#touch(path);
    this.memory -= this.#memoryOf.get(path) ?? 0;
    this.#memoryOf.delete(path);
    if (touch.local) this.#count(ownerOf(touch.local), -1);
    touch.local = null;
    touch.modified = true;
  }

  /**
   * Inside a transaction C checks each new node against the committed count only: nodes the
   * transaction created or removed, this request's included, count at commit.
   */
  refusesNodes(domid: number, _count: number, limit: number): boolean {
    return this.store.owned(domid) >= limit;
  }

  /** The change in node counts per domain this transaction would make. */
  ownedDelta(): ReadonlyMap<number, number> {
    return this.#ownedDelta;
  }

  /**
   * Holds a watch event back until commit, one per node: a subtree event replaces an exact one,
   * not the other way round (C's `queue_watches`).
   */
  queueEvent(event: PendingEvent): void {
    const touch = this.#touch(event.path);
    if (touch.fire !== 'tree') touch.fire = event.mode;
  }

  /** True when no node this transaction depends on changed since it was first touched. */
  canCommit(): boolean {
    for (const [path, touch] of this.#touched) {
      if (!touch.checkGeneration) continue;
      const global = this.store.get(path);
      if ((global ? global.generation : NO_GENERATION) !== touch.generation) return false;
    }
    return true;
  }

  /**
   * Writes the transaction's changes to the store (after {@link canCommit}) node by node, in the
   * order the nodes were first touched, and hands each node's held event to `fire` as soon as
   * that node is written: as in C, who may see it is judged on the store as committed so far
   * (a node's later-touched parent still has its old permissions).
   */
  commit(fire: (event: PendingEvent) => void): void {
    for (const [path, touch] of this.#touched) {
      if (touch.modified) {
        if (touch.local) this.store.put(path, touch.local);
        else if (touch.local === null) this.store.remove(path);
      }
      // A node that neither existed when first touched nor exists now (created and removed
      // again) has no permissions to judge its event by, and C's watch_permitted then denies it
      // to every watcher, dom0 included.
      if (touch.fire && (touch.originalPerms || touch.local)) {
        fire({ path, mode: touch.fire, perms: touch.originalPerms });
      }
    }
  }

  /** Every node touched, in the order first touched. */
  *touches(): IterableIterator<[string, TransactionTouch]> {
    for (const [path, { local, modified }] of this.#touched) yield [path, { local, modified }];
  }

  /**
   * Records a node as a migration stream describes it: touched when the stream was written, with
   * the global node as it is now as the version to check at commit. Child lists and events are
   * left to {@link settleRestored}, once every node is in.
   */
  restoreTouch(path: string, local: Node | null | undefined, modified: boolean): void {
    if (this.#touched.has(path)) throw new XenstoreError('EEXIST', `${path} touched twice`);
    const global = this.store.get(path);
    if (modified) {
      if (global) this.#count(ownerOf(global), -1);
      else if (local) this.created = true;
      if (local) this.#count(ownerOf(local), 1);
    }
    if (local) local.generation = modified ? this.store.tick() : (global?.generation ?? 0);
    this.#touched.set(path, {
      checkGeneration: true,
      generation: global ? global.generation : NO_GENERATION,
      local,
      originalPerms: global?.perms,
      modified,
      fire: undefined,
    });
  }

  /**
   * Completes restored touches, which a stream describes without child lists or watch events.
   * Each copy gets the global node's children, without those deleted here, plus those created
   * here in the order touched. Events are guessed as C queues them: a deleted node fires as the
   * top of a removal unless its parent went too (then only its own watches), a changed node fires
   * unless it changed only because a child came or went (so a node written and then given a
   * child fires nothing).
   */
  settleRestored(): void {
    const childChanged = new Set<string>();
    for (const [path, touch] of this.#touched) {
      if (touch.local) {
        const global = this.store.get(path);
        touch.local.children = global ? global.children.copy() : ChildList.of([]);
      }
    }
    for (const [path, touch] of this.#touched) {
      if (path === '/') continue;
      const parentName = parentPath(path);
      const parent = this.#touched.get(parentName)?.local;
      if (!parent) continue;
      const name = baseName(path);
      const listed = parent.children.has(name);
      if (touch.local && !listed) parent.children.append(name);
      else if (!touch.local && listed) parent.children.remove(name);
      else continue;
      childChanged.add(parentName);
    }
    for (const [path, touch] of this.#touched) {
      if (!touch.modified) continue;
      if (touch.local === null) {
        const parent = this.#touched.get(parentPath(path));
        touch.fire = parent && parent.local === null && path !== '/' ? 'exact' : 'tree';
      } else {
        touch.fire = childChanged.has(path) ? undefined : 'tree';
      }
    }
  }

  #touch(path: string): Touch {
    let touch = this.#touched.get(path);
    if (!touch) {
      this.get(path);
      touch = this.#touched.get(path)!;
    }
    return touch;
  }

  #count(domid: number, delta: number): void {
    this.#ownedDelta.set(domid, (this.#ownedDelta.get(domid) ?? 0) + delta);
  }
}
