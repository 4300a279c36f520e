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

// A node's row: 32-bit words, then its generation as a float64 (words 6 and 7). One row is half a
// cache line, so that finding and reading a node touches its slot, its row and its record.
const ROW = 8;
const HASH = 0;
/** Offset of the block holding the path, then the value. */
const RECORD = 1;
/** 0 for a free row (every path has at least "/"). */
const PATH_LENGTH = 2;
const VALUE_LENGTH = 3;
/** Offset of the child block (its byte count, then the names), or -1 for none. */
const CHILDREN = 4;
const PERMISSIONS = 5;
const GENERATION = 3; // in float64s
/** A child block's byte count before its names. */
const CHILD_HEADER = 4;

/**
 * The global tree, packed so that a million nodes cost little more than their bytes: a node is a
 * row of a typed array (its id), its path and value one block of a byte {@link Arena}, its child
 * names another block in C's layout (each followed by a nul), and paths are found through an
 * open-addressing hash index of ids. Permission lists are shared by reference and counted. Also a
 * store-wide generation counter and per-domain node counts.
 */
export class Store implements NodeAccess, ChildSource {
  #rows = new Int32Array(INITIAL_NODES * ROW);
  #generations = new Float64Array(this.#rows.buffer);
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
   * The last path found and its id: a request reads a node and writes it back under the same
   * path string, and the second look-up then costs a comparison. Cleared when a node goes.
   */
  #lastPath: string | undefined;
  #lastId = 0;
  /** {@link add}'s last parent, which bulk loads ask for again and again. */
  #lastParent: string | undefined;
  #lastParentId = 0;

  /**
   * @param compactionFloor arena bytes below which the store never compacts (small arenas waste
   *   little); tests lower it to compact often.
   */
  constructor(readonly compactionFloor = 1 << 16) {}

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
    const id = this.#lookUp(path);
    return id < 0 ? undefined : this.#node(id);
  }

  has(path: string): boolean {
    return this.#lookUp(path) >= 0;
  }

  /** Stores `node` at `path` and stamps it with a new generation. */
  put(path: string, node: Node): void {
    let id = this.#lookUp(path);
    if (id < 0) {
      id = this.#insert(path, hashPath(path), node);
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
    const id = this.#lookUp(path);
    if (id < 0) return;
    this.#lastPath = undefined;
    this.#lastParent = undefined;
    this.#unindex(id);
    const row = id * ROW;
    const rows = this.#rows;
    const list = rows[row + PERMISSIONS]!;
    this.#count(this.#lists[list]![0]!.domid, -1);
    this.#releaseList(list);
    this.#arena.release(rows[row + RECORD]!, rows[row + PATH_LENGTH]! + rows[row + VALUE_LENGTH]!);
    this.#dropChildren(id);
    rows[row + PATH_LENGTH] = 0;
    this.#generations[id * (ROW / 2) + GENERATION] = NO_GENERATION;
    this.#freeIds.push(id);
    this.#size--;
    this.#compactIfWasteful();
  }

  /** Removes every node. */
  clear(): void {
    for (let id = 0; id < this.#ids; id++) {
      if (this.#rows[id * ROW + PATH_LENGTH] !== 0) this.remove(this.#path(id));
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
      const row = id * ROW;
      const pathLength = this.#rows[row + PATH_LENGTH]!;
      if (pathLength === 0) continue;
      const perms = this.#lists[this.#rows[row + PERMISSIONS]!]!;
      if (owner !== undefined && perms[0]!.domid !== owner) continue;
      const value = this.#rows[row + VALUE_LENGTH]!;
      bytes += recordBytes(perms.length, value, this.#childLength(id)) + pathLength;
    }
    return bytes;
  }

  childBytes(id: number, generation: number): Uint8Array {
    if (
      this.#rows[id * ROW + PATH_LENGTH] === 0 ||
      this.#generations[id * (ROW / 2) + GENERATION] !== generation
    ) {
      throw new Error('child list read after its node changed in the store');
    }
    const block = this.#rows[id * ROW + CHILDREN]!;
    if (block < 0) return EMPTY_VALUE;
    const start = block + CHILD_HEADER;
    return this.#arena.bytes.subarray(start, start + this.#arena.words[block >> 2]!);
  }

  #node(id: number): Node {
    const row = id * ROW;
    const rows = this.#rows;
    const generation = this.#generations[id * (ROW / 2) + GENERATION]!;
    const valueLength = rows[row + VALUE_LENGTH]!;
    const start = rows[row + RECORD]! + rows[row + PATH_LENGTH]!;
    const block = rows[row + CHILDREN]!;
    return {
      value: valueLength === 0 ? EMPTY_VALUE : copyOut(this.#arena.bytes, start, valueLength),
      perms: this.#lists[rows[row + PERMISSIONS]!]!,
      children:
        block < 0
          ? NO_CHILDREN
          : ChildList.stored(this, id, generation, this.#arena.words[block >> 2]!),
      generation,
    };
  }

  #path(id: number): string {
    const start = this.#rows[id * ROW + RECORD]!;
    return latin1(this.#arena.bytes, start, start + this.#rows[id * ROW + PATH_LENGTH]!);
  }

  #childLength(id: number): number {
    const block = this.#rows[id * ROW + CHILDREN]!;
    return block < 0 ? 0 : this.#arena.words[block >> 2]!;
  }

  #lookUp(path: string): number {
    if (path === this.#lastPath) return this.#lastId;
    const id = this.#find(path, hashPath(path));
    if (id >= 0) {
      this.#lastPath = path;
      this.#lastId = id;
    }
    return id;
  }

  #find(path: string, hash: number): number {
    const slots = this.#slots;
    const rows = this.#rows;
    const mask = slots.length - 1;
    for (let at = hash & mask; ; at = (at + 1) & mask) {
      const slot = slots[at]!;
      if (slot === 0) return -1;
      const row = (slot - 1) * ROW;
      if (
        rows[row + HASH] === hash &&
        rows[row + PATH_LENGTH] === path.length &&
        matches(this.#arena.bytes, rows[row + RECORD]!, path)
      ) {
        return slot - 1;
      }
    }
  }

  /** A new row for `node` at `path` (value and permissions; no children yet), indexed. */
  #insert(path: string, hash: number, node: Node): number {
    if (path.length === 0 || path.length > MAX_PATH) {
      throw new XenstoreError('EINVAL', `path of ${path.length} bytes`);
    }
    const id = this.#freeIds.pop() ?? this.#newId();
    const value = node.value;
    const record = this.#arena.allocate(path.length + value.length);
    writeLatin1(this.#arena.bytes, record, path);
    copyIn(this.#arena.bytes, record + path.length, value);
    const row = id * ROW;
    const rows = this.#rows;
    rows[row + HASH] = hash;
    rows[row + RECORD] = record;
    rows[row + PATH_LENGTH] = path.length;
    rows[row + VALUE_LENGTH] = value.length;
    rows[row + CHILDREN] = -1;
    rows[row + PERMISSIONS] = this.#acquireList(node.perms);
    this.#generations[id * (ROW / 2) + GENERATION] = NO_GENERATION;
    this.#count(node.perms[0]!.domid, 1);
    if ((this.#size + 1) / this.#slots.length > MAX_LOAD) this.#rehash(this.#slots.length * 2);
    this.#index(id, hash);
    this.#size++;
    return id;
  }

  #newId(): number {
    const id = this.#ids++;
    if ((id + 1) * ROW > this.#rows.length) {
      const rows = new Int32Array(this.#rows.length * 2);
      rows.set(this.#rows);
      this.#rows = rows;
      this.#generations = new Float64Array(rows.buffer);
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
    let hole = this.#rows[id * ROW + HASH]! & mask;
    while (slots[hole] !== id + 1) hole = (hole + 1) & mask;
    for (let at = (hole + 1) & mask; slots[at] !== 0; at = (at + 1) & mask) {
      const home = this.#rows[(slots[at]! - 1) * ROW + HASH]! & mask;
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
      const row = id * ROW;
      if (this.#rows[row + PATH_LENGTH] !== 0) this.#index(id, this.#rows[row + HASH]!);
    }
  }

  #setValue(id: number, value: Uint8Array): void {
    const row = id * ROW;
    const rows = this.#rows;
    const pathLength = rows[row + PATH_LENGTH]!;
    const oldSize = pathLength + rows[row + VALUE_LENGTH]!;
    const size = pathLength + value.length;
    if (blockSize(size) !== blockSize(oldSize)) {
      const from = rows[row + RECORD]!;
      const to = this.#arena.allocate(size);
      this.#arena.bytes.copyWithin(to, from, from + pathLength);
      this.#arena.release(from, oldSize);
      rows[row + RECORD] = to;
    }
    copyIn(this.#arena.bytes, rows[row + RECORD]! + pathLength, value);
    rows[row + VALUE_LENGTH] = value.length;
  }

  #setPermissions(id: number, perms: NodePermissions): void {
    const old = this.#rows[id * ROW + PERMISSIONS]!;
    const oldPerms = this.#lists[old]!;
    if (oldPerms === perms) return;
    this.#rows[id * ROW + PERMISSIONS] = this.#acquireList(perms);
    if (oldPerms[0]!.domid !== perms[0]!.domid) {
      this.#count(oldPerms[0]!.domid, -1);
      this.#count(perms[0]!.domid, 1);
    }
    this.#releaseList(old);
  }

  /** Stores `list` as node `id`'s children: only what was added, when read from `id` itself. */
  #setChildren(id: number, list: ChildList): void {
    if (list === NO_CHILDREN && this.#rows[id * ROW + CHILDREN]! < 0) return;
    const added = list.addedTo(this, id, this.#generations[id * (ROW / 2) + GENERATION]!);
    if (added) {
      if (added.length > 0) {
        // Growing may replace the arena's buffer: make room before taking it.
        const at = this.#grow(id, added.length);
        this.#arena.bytes.set(added, at);
      }
      return;
    }
    const bytes = list.bytes();
    if (bytes.length === 0) {
      this.#dropChildren(id);
      return;
    }
    const oldLength = this.#childLength(id);
    if (
      this.#rows[id * ROW + CHILDREN]! < 0 ||
      blockSize(CHILD_HEADER + bytes.length) !== blockSize(CHILD_HEADER + oldLength)
    ) {
      this.#dropChildren(id);
      this.#rows[id * ROW + CHILDREN] = this.#arena.allocate(CHILD_HEADER + bytes.length);
    }
    const block = this.#rows[id * ROW + CHILDREN]!;
    this.#arena.words[block >> 2] = bytes.length;
    this.#arena.bytes.set(bytes, block + CHILD_HEADER);
  }

  #dropChildren(id: number): void {
    const block = this.#rows[id * ROW + CHILDREN]!;
    if (block < 0) return;
    this.#arena.release(block, CHILD_HEADER + this.#arena.words[block >> 2]!);
    this.#rows[id * ROW + CHILDREN] = -1;
  }

  #appendChild(id: number, name: string): void {
    const at = this.#grow(id, name.length + 1);
    writeLatin1(this.#arena.bytes, at, name);
    this.#arena.bytes[at + name.length] = 0;
  }

  /** Makes room for `more` child bytes at the end of node `id`'s list; where they go. */
  #grow(id: number, more: number): number {
    const oldLength = this.#childLength(id);
    const length = oldLength + more;
    let block = this.#rows[id * ROW + CHILDREN]!;
    if (block < 0 || blockSize(CHILD_HEADER + length) !== blockSize(CHILD_HEADER + oldLength)) {
      const to = this.#arena.allocate(CHILD_HEADER + length);
      if (block >= 0) {
        this.#arena.bytes.copyWithin(
          to + CHILD_HEADER,
          block + CHILD_HEADER,
          block + CHILD_HEADER + oldLength,
        );
        this.#arena.release(block, CHILD_HEADER + oldLength);
      }
      block = to;
      this.#rows[id * ROW + CHILDREN] = block;
    }
    this.#arena.words[block >> 2] = length;
    return block + CHILD_HEADER + oldLength;
  }

  /** Gives node `id` a new generation; `list`, if it reads `id`, now reads what is stored. */
  #stamp(id: number, list: ChildList): number {
    const at = id * (ROW / 2) + GENERATION;
    const before = this.#generations[at]!;
    const generation = this.#generation++;
    this.#generations[at] = generation;
    if (list !== NO_CHILDREN && list.addedTo(this, id, before)) {
      list.storedAs(generation, this.#childLength(id));
    }
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
    const rows = this.#rows;
    for (let id = 0; id < this.#ids; id++) {
      const row = id * ROW;
      if (rows[row + PATH_LENGTH] === 0) continue;
      const size = rows[row + PATH_LENGTH]! + rows[row + VALUE_LENGTH]!;
      rows[row + RECORD] = fresh.move(arena, rows[row + RECORD]!, size);
      const block = rows[row + CHILDREN]!;
      if (block >= 0) {
        rows[row + CHILDREN] = fresh.move(arena, block, CHILD_HEADER + arena.words[block >> 2]!);
      }
    }
    this.#arena = fresh;
  }

  #count(domid: number, delta: number): void {
    this.#owned.set(domid, (this.#owned.get(domid) ?? 0) + delta);
  }
}

/** Copies `value` to `offset`: by hand for short values, where `set` costs more. */
function copyIn(bytes: Uint8Array, offset: number, value: Uint8Array): void {
  if (value.length > 32) bytes.set(value, offset);
  else for (let i = 0; i < value.length; i++) bytes[offset + i] = value[i]!;
}

/** A copy of `length` bytes at `start`: by hand for short values, where `slice` costs more. */
function copyOut(bytes: Uint8Array, start: number, length: number): Uint8Array {
  if (length > 32) return bytes.slice(start, start + length);
  const copy = new Uint8Array(length);
  for (let i = 0; i < length; i++) copy[i] = bytes[start + i]!;
  return copy;
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
