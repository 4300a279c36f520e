import { addChild, type Node, type NodePermissions, newNode, ownerOf } from './node.ts';

/**
 * Reading and changing nodes by absolute path. The global store implements it directly; a
 * transaction implements it over its private copies. Nodes returned by `get` may be changed in
 * place by the caller, who must then `put` them.
 */
export interface NodeAccess {
  get(path: string): Node | undefined;
  /**
   * Stores a node. A node whose permissions (hence owner) change must be a new object, not the one
   * `get` returned changed in place, so that per-domain counts stay right.
   */
  put(path: string, node: Node): void;
  /** Removes one node (not its subtree; callers walk it). */
  remove(path: string): void;
  /**
   * Whether the node quota `limit` refuses `domid` `count` new nodes, as C counts them for a
   * request that creates nodes.
   */
  refusesNodes(domid: number, count: number, limit: number): boolean;
}

/** The permission list of a fresh C xenstored's nodes. */
export const DOM0_ONLY: NodePermissions = Object.freeze([{ access: 'n', domid: 0 }] as const);

/**
 * The global tree: a flat map from absolute path to node, plus a store-wide generation counter and
 * per-domain node counts.
 */
export class Store implements NodeAccess {
  readonly #nodes = new Map<string, Node>();
  readonly #owned = new Map<number, number>();
  #generation = 1;

  /** A store holding what a fresh C xenstored holds: `/`, `/tool`, `/tool/xenstored`. */
  static initial(): Store {
    const store = new Store();
    const root = newNode(new Uint8Array(0), DOM0_ONLY);
    addChild(root, 'tool');
    const tool = newNode(new Uint8Array(0), DOM0_ONLY);
    addChild(tool, 'xenstored');
    store.put('/', root);
    store.put('/tool', tool);
    store.put('/tool/xenstored', newNode(new Uint8Array(0), DOM0_ONLY));
    return store;
  }

  /** The generation the next change will get; domains are stamped with it when they appear. */
  get generation(): number {
    return this.#generation;
  }

  /** Takes a generation for a change made outside the store (a transaction's private copy). */
  tick(): number {
    return this.#generation++;
  }

  get size(): number {
    return this.#nodes.size;
  }

  get(path: string): Node | undefined {
    return this.#nodes.get(path);
  }

  has(path: string): boolean {
    return this.#nodes.has(path);
  }

  /** Stores `node` at `path` and stamps it with a new generation. */
  put(path: string, node: Node): void {
    const previous = this.#nodes.get(path);
    if (previous !== node) {
      if (previous) this.#count(ownerOf(previous), -1);
      this.#nodes.set(path, node);
      this.#count(ownerOf(node), 1);
    }
    node.generation = this.#generation++;
  }

  /** Stores a node at a path known to be free (bulk loading: one map operation instead of two). */
  add(path: string, node: Node): void {
    this.#nodes.set(path, node);
    this.#count(ownerOf(node), 1);
    node.generation = this.#generation++;
  }

  remove(path: string): void {
    const node = this.#nodes.get(path);
    if (!node) return;
    this.#nodes.delete(path);
    this.#count(ownerOf(node), -1);
  }

  /** Nodes owned by `domid`. */
  owned(domid: number): number {
    return this.#owned.get(domid) ?? 0;
  }

  /** C checks the quota before each new node, counting the ones the request made before it. */
  refusesNodes(domid: number, count: number, limit: number): boolean {
    return this.owned(domid) + count > limit;
  }

  /** Every node, parents before children (insertion order of a tree built top-down). */
  entries(): IterableIterator<[string, Node]> {
    return this.#nodes.entries();
  }

  #count(domid: number, delta: number): void {
    this.#owned.set(domid, (this.#owned.get(domid) ?? 0) + delta);
  }
}
