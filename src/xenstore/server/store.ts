import { XenstoreError } from '../errors.ts';
import { baseName, parentPath } from '../paths.ts';
import { Arena, blockSize, PAGE_MASK, PAGE_SHIFT } from './arena.ts';
import { ChildList, type ChildSource, matches, writeLatin1 } from './child-list.ts';
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

const INITIAL_SLOTS = 128;
/** The index grows past this share of its slots in use. */
const MAX_LOAD = 0.8;
/** Compaction waits until this much of the arena is free blocks, so that it stays cheap. */
const COMPACT_SHARE = 0.25;
const MAX_PATH = 0xffff;

// A node's row: 32-bit words, then its generation as a float64 (words 6 and 7). One row is half a
// cache line, so that finding and reading a node touches its slot, its row and its record. Rows
// come in pages of 4,096 (128 KiB) that are never grown or freed, as the arena's pages.
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
/** In float64s from the row's start. */
const GENERATION = 3;
const ROW_PAGE_SHIFT = 12;
const ROW_PAGE_MASK = (1 << ROW_PAGE_SHIFT) - 1;
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
  /** Rows by id: page `id >>> ROW_PAGE_SHIFT`, row `(id & ROW_PAGE_MASK) * ROW`. */
  readonly #rowPages: Int32Array[] = [];
  /** The same pages as float64s, for generations. */
  readonly #generationPages: Float64Array[] = [];
  #ids = 0;
  readonly #freeIds: number[] = [];
  #size = 0;

  /** Open addressing, linear probing: node id + 1, or 0 for an empty slot. */
  #slots = new Int32Array(INITIAL_SLOTS);
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
  /**
   * The last path not found and its hash: a WRITE that creates a node looks it up twice (is it
   * there, then where does it go) and hashes it again to insert it. Cleared when it is inserted.
   */
  #missedPath: string | undefined;
  #missedHash = 0;
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
      id = this.#insert(path, this.#hashOf(path), node);
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
    const id = this.#insert(path, this.#hashOf(path), node);
    this.#setChildren(id, node.children);
    node.generation = this.#stamp(id, node.children);
    if (parent >= 0) this.#appendChild(parent, baseName(path));
  }

  remove(path: string): void {
    const id = this.#lookUp(path);
    if (id < 0) return;
    this.#removeId(id);
    this.#compactIfWasteful();
  }

  /** Removes every node (compacting once at the end, not as each quarter of the arena frees). */
  clear(): void {
    for (let id = 0; id < this.#ids; id++) {
      if (this.#field(id, PATH_LENGTH) !== 0) this.#removeId(id);
    }
    this.#compactIfWasteful();
  }

  #removeId(id: number): void {
    this.#lastPath = undefined;
    this.#lastParent = undefined;
    this.#unindex(id);
    const rows = this.#rowPages[id >>> ROW_PAGE_SHIFT]!;
    const row = (id & ROW_PAGE_MASK) * ROW;
    const list = rows[row + PERMISSIONS]!;
    this.#count(this.#lists[list]![0]!.domid, -1);
    this.#releaseList(list);
    this.#arena.release(rows[row + RECORD]!, rows[row + PATH_LENGTH]! + rows[row + VALUE_LENGTH]!);
    this.#dropChildren(id);
    rows[row + PATH_LENGTH] = 0;
    this.#generationPages[id >>> ROW_PAGE_SHIFT]![(row >> 1) + GENERATION] = NO_GENERATION;
    this.#freeIds.push(id);
    this.#size--;
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
      const pathLength = this.#field(id, PATH_LENGTH);
      if (pathLength === 0) continue;
      const perms = this.#lists[this.#field(id, PERMISSIONS)]!;
      if (owner !== undefined && perms[0]!.domid !== owner) continue;
      const value = this.#field(id, VALUE_LENGTH);
      bytes += recordBytes(perms.length, value, this.#childLength(id)) + pathLength;
    }
    return bytes;
  }

  childBytes(id: number, generation: number): Uint8Array {
    if (this.#field(id, PATH_LENGTH) === 0 || this.#generationOf(id) !== generation) {
      throw new Error('child list read after its node changed in the store');
    }
    const block = this.#field(id, CHILDREN);
    if (block < 0) return EMPTY_VALUE;
    const start = (block & PAGE_MASK) + CHILD_HEADER;
    return this.#arena.pages[block >>> PAGE_SHIFT]!.subarray(start, start + this.#childLength(id));
  }

  #field(id: number, field: number): number {
    return this.#rowPages[id >>> ROW_PAGE_SHIFT]![(id & ROW_PAGE_MASK) * ROW + field]!;
  }

  #setField(id: number, field: number, value: number): void {
    this.#rowPages[id >>> ROW_PAGE_SHIFT]![(id & ROW_PAGE_MASK) * ROW + field] = value;
  }

  #generationOf(id: number): number {
    return this.#generationPages[id >>> ROW_PAGE_SHIFT]![
      (id & ROW_PAGE_MASK) * (ROW / 2) + GENERATION
    ]!;
  }

  #node(id: number): Node {
    const rows = this.#rowPages[id >>> ROW_PAGE_SHIFT]!;
    const row = (id & ROW_PAGE_MASK) * ROW;
    const generation = this.#generationPages[id >>> ROW_PAGE_SHIFT]![(row >> 1) + GENERATION]!;
    const valueLength = rows[row + VALUE_LENGTH]!;
    const record = rows[row + RECORD]!;
    const block = rows[row + CHILDREN]!;
    return {
      value:
        valueLength === 0
          ? EMPTY_VALUE
          : copyOut(
              this.#arena.pages[record >>> PAGE_SHIFT]!,
              (record & PAGE_MASK) + rows[row + PATH_LENGTH]!,
              valueLength,
            ),
      perms: this.#lists[rows[row + PERMISSIONS]!]!,
      children:
        block < 0 ? NO_CHILDREN : ChildList.stored(this, id, generation, this.#childLength(id)),
      generation,
    };
  }

  #childLength(id: number): number {
    const block = this.#field(id, CHILDREN);
    return block < 0 ? 0 : this.#arena.words[block >>> PAGE_SHIFT]![(block & PAGE_MASK) >> 2]!;
  }

  #lookUp(path: string): number {
    if (path === this.#lastPath) return this.#lastId;
    if (path === this.#missedPath) return -1;
    const hash = hashPath(path);
    const id = this.#find(path, hash);
    if (id >= 0) {
      this.#lastPath = path;
      this.#lastId = id;
    } else {
      this.#missedPath = path;
      this.#missedHash = hash;
    }
    return id;
  }

  #hashOf(path: string): number {
    return path === this.#missedPath ? this.#missedHash : hashPath(path);
  }

  #find(path: string, hash: number): number {
    const slots = this.#slots;
    const mask = slots.length - 1;
    for (let at = hash & mask; ; at = (at + 1) & mask) {
      const slot = slots[at]!;
      if (slot === 0) return -1;
      const id = slot - 1;
      const rows = this.#rowPages[id >>> ROW_PAGE_SHIFT]!;
      const row = (id & ROW_PAGE_MASK) * ROW;
      if (rows[row + HASH] === hash && rows[row + PATH_LENGTH] === path.length) {
        const record = rows[row + RECORD]!;
        if (matches(this.#arena.pages[record >>> PAGE_SHIFT]!, record & PAGE_MASK, path)) {
          return id;
        }
      }
    }
  }

  /** A new row for `node` at `path` (value and permissions; no children yet), indexed. */
  #insert(path: string, hash: number, node: Node): number {
    if (path.length === 0 || path.length > MAX_PATH) {
      throw new XenstoreError('EINVAL', `path of ${path.length} bytes`);
    }
    if (path === this.#missedPath) this.#missedPath = undefined;
    const id = this.#freeIds.pop() ?? this.#newId();
    const value = node.value;
    const record = this.#arena.allocate(path.length + value.length);
    const page = this.#arena.pages[record >>> PAGE_SHIFT]!;
    writeLatin1(page, record & PAGE_MASK, path);
    copyIn(page, (record & PAGE_MASK) + path.length, value);
    const rows = this.#rowPages[id >>> ROW_PAGE_SHIFT]!;
    const row = (id & ROW_PAGE_MASK) * ROW;
    rows[row + HASH] = hash;
    rows[row + RECORD] = record;
    rows[row + PATH_LENGTH] = path.length;
    rows[row + VALUE_LENGTH] = value.length;
    rows[row + CHILDREN] = -1;
    rows[row + PERMISSIONS] = this.#acquireList(node.perms);
    this.#generationPages[id >>> ROW_PAGE_SHIFT]![(row >> 1) + GENERATION] = NO_GENERATION;
    this.#count(node.perms[0]!.domid, 1);
    if ((this.#size + 1) / this.#slots.length > MAX_LOAD) this.#rehash(this.#slots.length * 2);
    this.#index(id, hash);
    this.#size++;
    return id;
  }

  #newId(): number {
    const id = this.#ids++;
    if ((id & ROW_PAGE_MASK) === 0) {
      const page = new Int32Array((ROW_PAGE_MASK + 1) * ROW);
      this.#rowPages.push(page);
      this.#generationPages.push(new Float64Array(page.buffer));
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
    let hole = this.#field(id, HASH) & mask;
    while (slots[hole] !== id + 1) hole = (hole + 1) & mask;
    for (let at = (hole + 1) & mask; slots[at] !== 0; at = (at + 1) & mask) {
      const home = this.#field(slots[at]! - 1, HASH) & mask;
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
      if (this.#field(id, PATH_LENGTH) !== 0) this.#index(id, this.#field(id, HASH));
    }
  }

  #setValue(id: number, value: Uint8Array): void {
    const rows = this.#rowPages[id >>> ROW_PAGE_SHIFT]!;
    const row = (id & ROW_PAGE_MASK) * ROW;
    const pathLength = rows[row + PATH_LENGTH]!;
    const oldSize = pathLength + rows[row + VALUE_LENGTH]!;
    const size = pathLength + value.length;
    if (blockSize(size) !== blockSize(oldSize)) {
      const from = rows[row + RECORD]!;
      const to = this.#arena.allocate(size);
      this.#copyBlock(from, to, pathLength);
      this.#arena.release(from, oldSize);
      rows[row + RECORD] = to;
    }
    const record = rows[row + RECORD]!;
    copyIn(this.#arena.pages[record >>> PAGE_SHIFT]!, (record & PAGE_MASK) + pathLength, value);
    rows[row + VALUE_LENGTH] = value.length;
  }

  #setPermissions(id: number, perms: NodePermissions): void {
    const old = this.#field(id, PERMISSIONS);
    const oldPerms = this.#lists[old]!;
    if (oldPerms === perms) return;
    this.#setField(id, PERMISSIONS, this.#acquireList(perms));
    if (oldPerms[0]!.domid !== perms[0]!.domid) {
      this.#count(oldPerms[0]!.domid, -1);
      this.#count(perms[0]!.domid, 1);
    }
    this.#releaseList(old);
  }

  /** Stores `list` as node `id`'s children: only what was added, when read from `id` itself. */
  #setChildren(id: number, list: ChildList): void {
    if (list === NO_CHILDREN && this.#field(id, CHILDREN) < 0) return;
    const added = list.addedTo(this, id, this.#generationOf(id));
    if (added) {
      if (added.length > 0) {
        const at = this.#grow(id, added.length);
        this.#childPage(id).set(added, at);
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
      this.#field(id, CHILDREN) < 0 ||
      blockSize(CHILD_HEADER + bytes.length) !== blockSize(CHILD_HEADER + oldLength)
    ) {
      this.#dropChildren(id);
      this.#setField(id, CHILDREN, this.#arena.allocate(CHILD_HEADER + bytes.length));
    }
    const block = this.#field(id, CHILDREN);
    this.#arena.words[block >>> PAGE_SHIFT]![(block & PAGE_MASK) >> 2] = bytes.length;
    this.#childPage(id).set(bytes, (block & PAGE_MASK) + CHILD_HEADER);
  }

  /** The page holding node `id`'s child block (which may span several page numbers). */
  #childPage(id: number): Uint8Array {
    return this.#arena.pages[this.#field(id, CHILDREN) >>> PAGE_SHIFT]!;
  }

  #dropChildren(id: number): void {
    const block = this.#field(id, CHILDREN);
    if (block < 0) return;
    this.#arena.release(block, CHILD_HEADER + this.#childLength(id));
    this.#setField(id, CHILDREN, -1);
  }

  #appendChild(id: number, name: string): void {
    const at = this.#grow(id, name.length + 1);
    const page = this.#childPage(id);
    writeLatin1(page, at, name);
    page[at + name.length] = 0;
  }

  /**
   * Makes room for `more` child bytes at the end of node `id`'s list; where they go in the child
   * block's page (a block larger than a page spans page numbers, so not as an offset).
   */
  #grow(id: number, more: number): number {
    const oldLength = this.#childLength(id);
    const length = oldLength + more;
    let block = this.#field(id, CHILDREN);
    if (block < 0 || blockSize(CHILD_HEADER + length) !== blockSize(CHILD_HEADER + oldLength)) {
      const to = this.#arena.allocate(CHILD_HEADER + length);
      if (block >= 0) {
        this.#copyBlock(block + CHILD_HEADER, to + CHILD_HEADER, oldLength);
        this.#arena.release(block, CHILD_HEADER + oldLength);
      }
      block = to;
      this.#setField(id, CHILDREN, block);
    }
    this.#arena.words[block >>> PAGE_SHIFT]![(block & PAGE_MASK) >> 2] = length;
    return (block & PAGE_MASK) + CHILD_HEADER + oldLength;
  }

  /** Copies `length` bytes between blocks, which may be in different pages. */
  #copyBlock(from: number, to: number, length: number): void {
    const start = from & PAGE_MASK;
    this.#arena.pages[to >>> PAGE_SHIFT]!.set(
      this.#arena.pages[from >>> PAGE_SHIFT]!.subarray(start, start + length),
      to & PAGE_MASK,
    );
  }

  /** Gives node `id` a new generation; `list`, if it reads `id`, now reads what is stored. */
  #stamp(id: number, list: ChildList): number {
    const generations = this.#generationPages[id >>> ROW_PAGE_SHIFT]!;
    const at = (id & ROW_PAGE_MASK) * (ROW / 2) + GENERATION;
    const before = generations[at]!;
    const generation = this.#generation++;
    generations[at] = generation;
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
    const fresh = new Arena();
    for (let id = 0; id < this.#ids; id++) {
      const pathLength = this.#field(id, PATH_LENGTH);
      if (pathLength === 0) continue;
      const size = pathLength + this.#field(id, VALUE_LENGTH);
      this.#setField(id, RECORD, fresh.move(arena, this.#field(id, RECORD), size));
      const block = this.#field(id, CHILDREN);
      if (block >= 0) {
        this.#setField(
          id,
          CHILDREN,
          fresh.move(arena, block, CHILD_HEADER + this.#childLength(id)),
        );
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
