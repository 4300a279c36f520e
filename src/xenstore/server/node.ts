import type { Permission } from '../permissions.ts';
import { ChildList } from './child-list.ts';

/**
 * A permission entry as stored on a node. `ignored` marks an entry naming a domain that did not
 * exist when it was set: C stores that mark with the node (`XS_PERM_IGNORE`), so the entry stays
 * void even once such a domain appears. GET_PERMS still shows it.
 */
export interface NodePermission extends Permission {
  readonly ignored?: boolean;
}

/** A permission list. Lists are immutable and shared by reference between nodes that inherit them. */
export type NodePermissions = readonly NodePermission[];

/**
 * One node as a request works on it. The global store keeps its nodes packed and hands out a
 * fresh `Node` for each read (see `Store`); a transaction keeps its own copies. The value is never
 * mutated (it may be shared), only replaced.
 */
export interface Node {
  value: Uint8Array;
  perms: NodePermissions;
  /** Child names; the shared frozen {@link NO_CHILDREN} until the first child (see {@link addChild}). */
  children: ChildList;
  /** Store-wide modification counter value of the last change (conflict detection, DIRECTORY_PART). */
  generation: number;
}

/** The value of nodes created implicitly or by MKDIR. */
export const EMPTY_VALUE: Uint8Array = new Uint8Array(0);

/** `NO_GENERATION`: what a transaction records for a node that did not exist when first touched. */
export const NO_GENERATION = -1;

/**
 * The child list of every childless node: most nodes are leaves. It refuses changes, so that an
 * append instead of {@link addChild} fails loudly.
 */
export const NO_CHILDREN: ChildList = ChildList.frozenEmpty();

/** A fresh node with no children. */
export function newNode(value: Uint8Array, perms: NodePermissions): Node {
  return { value, perms, children: NO_CHILDREN, generation: 0 };
}

/** Appends a child name. */
export function addChild(node: Node, name: string): void {
  if (node.children === NO_CHILDREN) node.children = ChildList.of([name]);
  else node.children.append(name);
}

/** A private copy whose child list can be changed without touching the original. */
export function copyNode(node: Node): Node {
  return {
    value: node.value,
    perms: node.perms,
    children: node.children === NO_CHILDREN ? NO_CHILDREN : node.children.copy(),
    generation: node.generation,
  };
}

/** The domain owning a node: the first permission entry's domid. */
export function ownerOf(node: Node): number {
  return node.perms[0]!.domid;
}

// C xenstored's record: `struct xs_tdb_record_hdr` (u64 generation + 3 × u32, padded to 24 bytes)
// followed by 8 bytes per permission entry, the value and the nul-terminated child names.
const RECORD_HEADER_SIZE = 24;
const RECORD_PERMISSION_SIZE = 8;

/** Size of a record as C xenstored stores it; the node-size quota applies to it. */
export function recordBytes(permissions: number, valueLength: number, childBytes: number): number {
  return RECORD_HEADER_SIZE + permissions * RECORD_PERMISSION_SIZE + valueLength + childBytes;
}

/** Size of the node's record as C xenstored stores it. */
export function recordSize(node: Node): number {
  return recordBytes(node.perms.length, node.value.length, node.children.byteLength);
}
