import { XenstoreError } from '../errors.ts';
import { baseName, parentPath } from '../paths.ts';
import { Arena, blockSize } from './arena.ts';
import { ChildList, type ChildSource, latin1, matches, writeLatin1 } from './child-list.ts';
import {
  EMPTY_VALUE,
  NO_CHILDREN,
  NO_GENERATION,
  type Node,
  type NodePermissions,
  newNode,
  recordBytes,
} from './node.ts';

/**
 * Reading and changing nodes by absolute path. The global store implements it directly; a
 * transaction implements it over its private copies. Nodes returned by `get` may be changed in
 * place by the caller, who must then `put` them for the change to count.
 */
export interface NodeAccess {
  get(path: string): Node | undefined;
  /** Stores a node (a copy of it, for the global store). */
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

const INITIAL_NODES = 64;
/** The index grows past this share of its slots in use. */
const MAX_LOAD = 0.8;
/** Compaction waits until this much of the arena is free blocks, so that it stays cheap. */
const COMPACT_SHARE = 0.25;
const MAX_PATH = 0xffff;

/**
 * The global tree, packed so that a million nodes cost little more than their bytes: a node is a
 * row of typed-array columns (its id), its path and value one block of a byte {@link Arena}, its
 * child names another block in C's layout (each followed by a nul), and paths are found through
 * an open-addressing hash index of ids. Permission lists are shared by reference and counted.
 * Also a store-wide generation counter and per-domain node counts.
 */
export class Store implements NodeAccess, ChildSource {
  // Columns, by node id. A free id has path length 0 (every path has at least "/").
  #hashes = new Int32Array(INITIAL_NODES);
  /** Offset of the block holding the path, then the value. */
  #records = new Uint32Array(INITIAL_NODES);
  #pathLengths = new Uint16Array(INITIAL_NODES);
  #valueLengths = new Uint32Array(INITIAL_NODES);
  /** Offset of the child-name block (when the child bytes are not 0). */
  #children = new Uint32Array(INITIAL_NODES);
  #childLengths = new Uint32Array(INITIAL_NODES);
  #permissions = new Uint32Array(INITIAL_NODES);
  #generations = new Float64Array(INITIAL_NODES);
  #ids = 0;
  readonly #freeIds: number[] = [];
  #size = 0;

  /** Open addressing, linear probing: node id + 1, or 0 for an empty slot. */
  #slots = new Int32Array(INITIAL_NODES * 2);
  #arena = new Arena();

  // Permission lists in use, by list id, with how many nodes hold each.
  readonly #lists: (NodePermissions | undefined)[] = [];
  readonly #listIds = new Map<NodePermissions, number>();
  readonly #listUsers: number[] = [];
  readonly #freeListIds: number[] = [];

  readonly #owned = new Map<number, number>();
  #generation = 1;
  /**
   * @param compactionFloor arena bytes below which the store never compacts (small arenas waste
   *   little); tests lower it to compact often.
   */
  constructor(readonly compactionFloor = 1 << 16) {}

  /** {@link add}'s last parent, which bulk loads ask for again and again. */
  #lastParent: string | undefined;
  #lastParentId = 0;

  /** A store holding what a fresh C xenstored holds: `/`, `/tool`, `/tool/xenstored`. */
  static initial(): Store {
    const store = new Store();
    for (const path of ['/', '/tool', '/tool/xenstored']) {
      store.add(path, newNode(EMPTY_VALUE, DOM0_ONLY));
    }
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
    return this.#size;
  }

  /** A fresh copy of the node at `path`; its child list reads the store until changed. */
  get(path: string): Node | undefined {
    const id = this.#find(path, hashPath(path));
    return id < 0 ? undefined : this.#node(id);
  }

  has(path: string): boolean {
    return this.#find(path, hashPath(path)) >= 0;
  }

  /** Stores `node` at `path` and stamps it with a new generation. */
  put(path: string, node: Node): void {
    const hash = hashPath(path);
    let id = this.#find(path, hash);
    if (id < 0) {
      id = this.#insert(path, hash, node);
    } else {
      this.#setValue(id, node.value);
      this.#setPermissions(id, node.perms);
    }
    this.#setChildren(id, node.children);
    node.generation = this.#stamp(id, node.children);
    this.#compactIfWasteful();
  }

  /**
   * Stores a node at a path known to be free, whose parent exists, and appends its name to the
   * parent's children (bulk loading: the parent's generation stays).
   */
  add(path: string, node: Node): void {
    let parent = -1;
    if (path !== '/') {
      const parentName = parentPath(path);
      if (parentName === this.#lastParent) {
        parent = this.#lastParentId;
      } else {
        parent = this.#find(parentName, hashPath(parentName));
        if (parent < 0) throw new XenstoreError('ENOENT', `no parent for ${path}`);
        this.#lastParent = parentName;
        this.#lastParentId = parent;
      }
    }
    const id = this.#insert(path, hashPath(path), node);
    this.#setChildren(id, node.children);
    node.generation = this.#stamp(id, node.children);
    if (parent >= 0) this.#appendChild(parent, baseName(path));
  }

  remove(path: string): void {
    const id = this.#find(path, hashPath(path));
    if (id < 0) return;
    this.#unindex(id);
    const list = this.#permissions[id]!;
    this.#count(this.#lists[list]![0]!.domid, -1);
    this.#releaseList(list);
    this.#arena.release(this.#records[id]!, this.#pathLengths[id]! + this.#valueLengths[id]!);
    const childBytes = this.#childLengths[id]!;
    if (childBytes > 0) this.#arena.release(this.#children[id]!, childBytes);
    this.#pathLengths[id] = 0;
    this.#childLengths[id] = 0;
    this.#generations[id] = NO_GENERATION;
    this.#freeIds.push(id);
    this.#size--;
    this.#lastParent = undefined;
    this.#compactIfWasteful();
  }

  /** Removes every node. */
  clear(): void {
    for (let id = 0; id < this.#ids; id++) {
      if (this.#pathLengths[id] !== 0) this.remove(this.#path(id));
    }
  }

  /** Nodes owned by `domid`. */
  owned(domid: number): number {
    return this.#owned.get(domid) ?? 0;
  }

  /** C checks the quota before each new node, counting the ones the request made before it. */
  refusesNodes(domid: number, count: number, limit: number): boolean {
    return this.owned(domid) + count > limit;
  }

  /**
   * Bytes C xenstored's database holds for the nodes (of `owner`'s nodes, when given): each
   * node's record and its path, the key of that record.
   */
  databaseBytes(owner?: number): number {
    let bytes = 0;
    for (let id = 0; id < this.#ids; id++) {
      const pathLength = this.#pathLengths[id]!;
      if (pathLength === 0) continue;
      const perms = this.#lists[this.#permissions[id]!]!;
      if (owner !== undefined && perms[0]!.domid !== owner) continue;
      bytes +=
        recordBytes(perms.length, this.#valueLengths[id]!, this.#childLengths[id]!) + pathLength;
    }
    return bytes;
  }

  childBytes(id: number, generation: number): Uint8Array {
    if (this.#pathLengths[id] === 0 || this.#generations[id] !== generation) {
      throw new Error('child list read after its node changed in the store');
    }
    const start = this.#children[id]!;
    return this.#arena.bytes.subarray(start, start + this.#childLengths[id]!);
  }

  #node(id: number): Node {
    const generation = this.#generations[id]!;
    const valueLength = this.#valueLengths[id]!;
    const start = this.#records[id]! + this.#pathLengths[id]!;
    const childBytes = this.#childLengths[id]!;
    return {
      value: valueLength === 0 ? EMPTY_VALUE : this.#arena.bytes.slice(start, start + valueLength),
      perms: this.#lists[this.#permissions[id]!]!,
      children: childBytes === 0 ? NO_CHILDREN : ChildList.stored(this, id, generation, childBytes),
      generation,
    };
  }

  #path(id: number): string {
    const start = this.#records[id]!;
    return latin1(this.#arena.bytes, start, start + this.#pathLengths[id]!);
  }

  #find(path: string, hash: number): number {
    const slots = this.#slots;
    const mask = slots.length - 1;
    for (let at = hash & mask; ; at = (at + 1) & mask) {
      const slot = slots[at]!;
      if (slot === 0) return -1;
      const id = slot - 1;
      if (
        this.#hashes[id] === hash &&
        this.#pathLengths[id] === path.length &&
        matches(this.#arena.bytes, this.#records[id]!, path)
      ) {
        return id;
      }
    }
  }

  /** A new row for `node` at `path` (value and permissions; no children yet), indexed. */
  #insert(path: string, hash: number, node: Node): number {
    if (path.length === 0 || path.length > MAX_PATH) {
      throw new XenstoreError('EINVAL', `path of ${path.length} bytes`);
    }
    const id = this.#freeIds.pop() ?? this.#newId();
    const size = path.length + node.value.length;
    const record = this.#arena.allocate(size);
    writeLatin1(this.#arena.bytes, record, path);
    this.#arena.bytes.set(node.value, record + path.length);
    this.#hashes[id] = hash;
    this.#records[id] = record;
    this.#pathLengths[id] = path.length;
    this.#valueLengths[id] = node.value.length;
    this.#childLengths[id] = 0;
    this.#generations[id] = NO_GENERATION;
    this.#permissions[id] = this.#acquireList(node.perms);
    this.#count(node.perms[0]!.domid, 1);
    if ((this.#size + 1) / this.#slots.length > MAX_LOAD) this.#rehash(this.#slots.length * 2);
    this.#index(id, hash);
    this.#size++;
    return id;
  }

  #newId(): number {
    const id = this.#ids++;
    if (id === this.#hashes.length) {
      const capacity = id * 2;
      this.#hashes = grown(this.#hashes, new Int32Array(capacity));
      this.#records = grown(this.#records, new Uint32Array(capacity));
      this.#pathLengths = grown(this.#pathLengths, new Uint16Array(capacity));
      this.#valueLengths = grown(this.#valueLengths, new Uint32Array(capacity));
      this.#children = grown(this.#children, new Uint32Array(capacity));
      this.#childLengths = grown(this.#childLengths, new Uint32Array(capacity));
      this.#permissions = grown(this.#permissions, new Uint32Array(capacity));
      this.#generations = grown(this.#generations, new Float64Array(capacity));
    }
    return id;
  }

  #index(id: number, hash: number): void {
    const slots = this.#slots;
    const mask = slots.length - 1;
    let at = hash & mask;
    while (slots[at] !== 0) at = (at + 1) & mask;
    slots[at] = id + 1;
  }

  /** Takes `id` out of the index, moving later entries of its probe run back into the hole. */
  #unindex(id: number): void {
    const slots = this.#slots;
    const mask = slots.length - 1;
    let hole = this.#hashes[id]! & mask;
    while (slots[hole] !== id + 1) hole = (hole + 1) & mask;
    for (let at = (hole + 1) & mask; slots[at] !== 0; at = (at + 1) & mask) {
      const home = this.#hashes[slots[at]! - 1]! & mask;
      // An entry stays when its home lies after the hole, up to where it is (cyclically).
      const stays = hole < at ? home > hole && home <= at : home > hole || home <= at;
      if (!stays) {
        slots[hole] = slots[at]!;
        hole = at;
      }
    }
    slots[hole] = 0;
  }

  #rehash(capacity: number): void {
    this.#slots = new Int32Array(capacity);
    for (let id = 0; id < this.#ids; id++) {
      if (this.#pathLengths[id] !== 0) this.#index(id, this.#hashes[id]!);
    }
  }

  #setValue(id: number, value: Uint8Array): void {
    const pathLength = this.#pathLengths[id]!;
    const oldSize = pathLength + this.#valueLengths[id]!;
    const size = pathLength + value.length;
    if (blockSize(size) !== blockSize(oldSize)) {
      const from = this.#records[id]!;
      const to = this.#arena.allocate(size);
      this.#arena.bytes.copyWithin(to, from, from + pathLength);
      this.#arena.release(from, oldSize);
      this.#records[id] = to;
    }
    this.#arena.bytes.set(value, this.#records[id]! + pathLength);
    this.#valueLengths[id] = value.length;
  }

  #setPermissions(id: number, perms: NodePermissions): void {
    const old = this.#permissions[id]!;
    const oldPerms = this.#lists[old]!;
    if (oldPerms === perms) return;
    this.#permissions[id] = this.#acquireList(perms);
    if (oldPerms[0]!.domid !== perms[0]!.domid) {
      this.#count(oldPerms[0]!.domid, -1);
      this.#count(perms[0]!.domid, 1);
    }
    this.#releaseList(old);
  }

  /** Stores `list` as node `id`'s children: only what was added, when read from `id` itself. */
  #setChildren(id: number, list: ChildList): void {
    const added = list.addedTo(this, id, this.#generations[id]!);
    if (added) {
      if (added.length > 0) this.#appendBytes(id, added);
      return;
    }
    const bytes = list.bytes();
    const oldSize = this.#childLengths[id]!;
    this.#childLengths[id] = bytes.length;
    if (bytes.length === 0) {
      if (oldSize > 0) this.#arena.release(this.#children[id]!, oldSize);
      return;
    }
    if (blockSize(bytes.length) !== blockSize(oldSize)) {
      const from = this.#children[id]!;
      this.#children[id] = this.#arena.allocate(bytes.length);
      if (oldSize > 0) this.#arena.release(from, oldSize);
    }
    this.#arena.bytes.set(bytes, this.#children[id]!);
  }

  #appendChild(id: number, name: string): void {
    const at = this.#grow(id, name.length + 1);
    writeLatin1(this.#arena.bytes, at, name);
    this.#arena.bytes[at + name.length] = 0;
  }

  #appendBytes(id: number, bytes: Uint8Array): void {
    this.#arena.bytes.set(bytes, this.#grow(id, bytes.length));
  }

  /** Makes room for `more` child bytes at the end of node `id`'s list; where they go. */
  #grow(id: number, more: number): number {
    const oldSize = this.#childLengths[id]!;
    const size = oldSize + more;
    if (blockSize(size) !== blockSize(oldSize)) {
      const from = this.#children[id]!;
      const to = this.#arena.allocate(size);
      if (oldSize > 0) {
        this.#arena.bytes.copyWithin(to, from, from + oldSize);
        this.#arena.release(from, oldSize);
      }
      this.#children[id] = to;
    }
    this.#childLengths[id] = size;
    return this.#children[id]! + oldSize;
  }

  /** Gives node `id` a new generation; `list`, if it reads `id`, now reads what is stored. */
  #stamp(id: number, list: ChildList): number {
    const before = this.#generations[id]!;
    const generation = this.#generation++;
    this.#generations[id] = generation;
    if (list.addedTo(this, id, before)) list.storedAs(generation, this.#childLengths[id]!);
    return generation;
  }

  #acquireList(perms: NodePermissions): number {
    let list = this.#listIds.get(perms);
    if (list === undefined) {
      list = this.#freeListIds.pop() ?? this.#lists.length;
      this.#lists[list] = perms;
      this.#listUsers[list] = 0;
      this.#listIds.set(perms, list);
    }
    this.#listUsers[list]!++;
    return list;
  }

  #releaseList(list: number): void {
    if (--this.#listUsers[list]! > 0) return;
    this.#listIds.delete(this.#lists[list]!);
    this.#lists[list] = undefined;
    this.#freeListIds.push(list);
  }

  /** Copies the live blocks into a fresh arena once enough of this one is free blocks. */
  #compactIfWasteful(): void {
    const arena = this.#arena;
    if (arena.used < this.compactionFloor || arena.freeBytes < arena.used * COMPACT_SHARE) return;
    const fresh = new Arena(arena.used - arena.freeBytes);
    for (let id = 0; id < this.#ids; id++) {
      if (this.#pathLengths[id] === 0) continue;
      this.#records[id] = fresh.move(
        arena,
        this.#records[id]!,
        this.#pathLengths[id]! + this.#valueLengths[id]!,
      );
      const childBytes = this.#childLengths[id]!;
      if (childBytes > 0) this.#children[id] = fresh.move(arena, this.#children[id]!, childBytes);
    }
    this.#arena = fresh;
  }

  #count(domid: number, delta: number): void {
    this.#owned.set(domid, (this.#owned.get(domid) ?? 0) + delta);
  }
}

/** FNV-1a over the path's characters, with a final mix so that linear probing spreads. */
function hashPath(path: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) hash = Math.imul(hash ^ path.charCodeAt(i), 0x01000193);
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  return hash;
}

function grown<T extends Int32Array | Uint32Array | Uint16Array | Float64Array>(from: T, to: T): T {
  to.set(from as never);
  return to;
}
