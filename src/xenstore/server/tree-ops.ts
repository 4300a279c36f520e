import { XenstoreError } from '../errors.ts';
import { baseName, joinPath, parentPath } from '../paths.ts';
import { ChildList } from './child-list.ts';
import {
  addChild,
  EMPTY_VALUE,
  type Node,
  type NodePermissions,
  newNode,
  recordSize,
} from './node.ts';
import {
  allows,
  type Identity,
  inheritPermissions,
  Perm,
  permFor,
  settledPermissions,
} from './permissions.ts';
import type { Quotas } from './quota.ts';
import type { NodeAccess } from './store.ts';
import type { PendingEvent } from './transactions.ts';

/**
 * Everything a node request needs: who asks, the view of the tree it works on (the store, or a
 * transaction), the limits that apply, and where its watch events go (fired now, or held by the
 * transaction).
 */
export interface Scope {
  readonly who: Identity;
  readonly access: NodeAccess;
  /** The caller's quota value for `key`; only consulted for unprivileged callers. */
  limit(key: keyof Quotas): number;
  /** True when `domid` names a domain that exists (SET_PERMS). */
  domainExists(domid: number): boolean;
  fire(event: PendingEvent, node?: Node): void;
  /**
   * Called when a change is refused after C would already have started writing it (a node-size
   * quota hit): C cannot undo that inside a transaction and fails its commit.
   */
  writeFailed(): void;
  /** Called when a request sets out to create nodes, before their quotas are checked. */
  creating(): void;
}

/**
 * The node at `path` if `who` has `wanted` access to it, `undefined` if it is missing and `who`
 * may know that, else EACCES. C's rule: a missing node is only reported as missing when the
 * nearest existing ancestor grants (some of) the access asked for.
 */
export function find(scope: Scope, path: string, wanted: number): Node | undefined {
  const node = scope.access.get(path);
  if (node) {
    if (allows(scope.who, node.perms, wanted, node.generation)) return node;
    // C's get_node asks the parents on every failure, a refusal included (errno_from_parents);
    // the answer is EACCES either way, but inside a transaction that read makes the nearest
    // existing ancestor part of what the commit depends on.
    nearestAncestor(scope, path);
    throw new XenstoreError('EACCES', { path });
  }
  // Even privileged callers look the ancestors up, as C does, for the same reason.
  const ancestor = nearestAncestor(scope, path);
  // Any one of the asked-for bits will do here (C's errno_from_parents).
  if (
    scope.who.privileged ||
    (ancestor && (permFor(scope.who, ancestor.perms, ancestor.generation) & wanted) !== 0)
  ) {
    return undefined;
  }
  throw new XenstoreError('EACCES', { path });
}

/** The nearest existing proper ancestor of `path` (C's ask_parents), read through the scope. */
function nearestAncestor(scope: Scope, path: string): Node | undefined {
  let ancestor: Node | undefined;
  for (let at = parentPath(path); !ancestor; at = parentPath(at)) {
    ancestor = scope.access.get(at);
    if (at === '/') break;
  }
  return ancestor;
}

/** {@link find}, with a missing node being ENOENT. */
export function existing(scope: Scope, path: string, wanted: number): Node {
  const node = find(scope, path, wanted);
  if (!node) throw new XenstoreError('ENOENT', { path });
  return node;
}

/** WRITE: sets the value, creating the node and missing ancestors. */
export function writeNode(scope: Scope, path: string, value: Uint8Array): void {
  let node = find(scope, path, Perm.WRITE);
  if (node) {
    if (
      !scope.who.privileged &&
      recordSize(node) - node.value.length + value.length >= scope.limit('nodeSize')
    ) {
      scope.writeFailed();
      throw new XenstoreError('ENOSPC', 'node too large', 'WRITE', path);
    }
    node.value = value;
    keepLapsed(scope, node);
    scope.access.put(path, node);
  } else {
    node = createNode(scope, path, value);
  }
  scope.fire({ path, mode: 'tree', perms: undefined }, node);
}

/** MKDIR: creates the node (empty) unless it exists. */
export function makeNode(scope: Scope, path: string): void {
  if (find(scope, path, Perm.WRITE)) return;
  const node = createNode(scope, path, EMPTY_VALUE);
  scope.fire({ path, mode: 'tree', perms: undefined }, node);
}

/**
 * Creates `path` and its missing ancestors, all checks first so that a refusal leaves nothing
 * behind. The caller has established that `who` may write the nearest existing ancestor.
 */
function createNode(scope: Scope, path: string, value: Uint8Array): Node {
  const { access, who } = scope;
  const missing = [path];
  let anchorPath = parentPath(path);
  let anchor = access.get(anchorPath);
  while (!anchor) {
    missing.push(anchorPath);
    anchorPath = parentPath(anchorPath);
    anchor = access.get(anchorPath);
  }
  scope.creating();
  const anchorPerms = readPermissions(scope, anchor);
  const perms = inheritPermissions(anchorPerms, who);
  const created: Node[] = [];
  for (let i = missing.length - 1; i >= 0; i--) {
    const node = newNode(i === 0 ? value : EMPTY_VALUE, perms);
    if (i > 0) addChild(node, baseName(missing[i - 1]!));
    created.push(node);
  }
  const firstName = baseName(missing[missing.length - 1]!);
  if (!who.privileged) {
    if (access.refusesNodes(who.domid, created.length, scope.limit('nodes'))) {
      throw new XenstoreError('ENOSPC', 'node quota reached', undefined, path);
    }
    const maxSize = scope.limit('nodeSize');
    if (
      recordSize(anchor) + firstName.length + 1 >= maxSize ||
      created.some((node) => recordSize(node) >= maxSize)
    ) {
      scope.writeFailed();
      throw new XenstoreError('ENOSPC', 'node too large', undefined, path);
    }
  }
  addChild(anchor, firstName);
  anchor.perms = anchorPerms;
  access.put(anchorPath, anchor);
  for (let i = 0; i < created.length; i++) {
    access.put(missing[missing.length - 1 - i]!, created[i]!);
  }
  return created[created.length - 1]!;
}

/**
 * RM: removes the node and its subtree; a missing node is fine if its parent exists. Only a
 * transaction's view can be inconsistent (nodes are copied when first touched, absence included),
 * and there C's checks answer as below.
 */
export function removeNode(scope: Scope, path: string): void {
  const node = find(scope, path, Perm.WRITE);
  const parentName = parentPath(path);
  if (!node) {
    if (scope.access.get(parentName)) return;
    throw new XenstoreError('ENOENT', undefined, 'RM', path);
  }
  if (path === '/') throw new XenstoreError('EINVAL', 'cannot remove /', 'RM', path);
  // C's rm_node reads the parent first: missing to the transaction, it is EINVAL.
  const parent = scope.access.get(parentName);
  if (!parent) throw new XenstoreError('EINVAL', 'parent missing', 'RM', path);
  removeTree(scope, path, node, true);
  // C's delete_child: a parent copy that does not list the node (it appeared outside after the
  // transaction copied the parent) is "corruption", EIO, after the subtree is already gone.
  if (!parent.children.remove(baseName(path))) {
    throw new XenstoreError('EIO', 'parent does not list the node', 'RM', path);
  }
  keepLapsed(scope, parent);
  scope.access.put(parentName, parent);
}

/**
 * Marks the entries of `node` that no longer count (at its current generation) as void for good,
 * before the node is written back with a new generation: C writes back the permissions it read,
 * and reading marks lapsed entries (see {@link settledPermissions}).
 */
function keepLapsed(scope: Scope, node: Node): void {
  node.perms = readPermissions(scope, node);
}

/** The permissions of `node` as C reads them, lapsed entries marked. */
function readPermissions(scope: Scope, node: Node): NodePermissions {
  return settledPermissions(scope.who, node.perms, node.generation);
}

// C's walk (walk_node_tree with delnode_sub on exit): children first, each node's watches fired
// while its permissions are known, each removed child unlinked from its parent's copy
// (rm_from_parent). A child that cannot be read stops the walk with EIO, whether it is listed
// but missing to a transaction or over the transaction's node quota; what was removed so far
// stays removed, and the parents it was removed from list only the rest.
function removeTree(scope: Scope, path: string, node: Node, top: boolean): void {
  const children = node.children.names();
  for (let i = 0; i < children.length; i++) {
    const childPath = joinPath(path, children[i]!);
    try {
      removeTree(scope, childPath, walkRead(scope, childPath), false);
    } catch (err) {
      if (i > 0) {
        node.children = ChildList.of(children.slice(i));
        keepLapsed(scope, node);
        scope.access.put(path, node);
      }
      throw err;
    }
  }
  scope.access.remove(path);
  scope.fire({ path, mode: top ? 'tree' : 'exact', perms: readPermissions(scope, node) }, node);
}

// A read inside C's walk: any failure is WALK_TREE_ERROR_STOP, which rm_node answers with EIO.
function walkRead(scope: Scope, path: string): Node {
  let node: Node | undefined;
  try {
    node = scope.access.get(path);
  } catch {
    node = undefined;
  }
  if (!node) throw new XenstoreError('EIO', 'node walk stopped', 'RM', path);
  return node;
}

/**
 * SET_PERMS on a node: owner (or privileged) only; an unprivileged owner keeps ownership. `stored`
 * comes from {@link storedPermissions}.
 */
export function setNodePermissions(scope: Scope, path: string, stored: NodePermissions): void {
  const { who } = scope;
  const node = existing(scope, path, Perm.WRITE | Perm.OWNER);
  if (!who.privileged && stored[0]!.domid !== node.perms[0]!.domid) {
    throw new XenstoreError('EPERM', 'only a privileged domain may change the owner');
  }
  const changed: Node = {
    value: node.value,
    perms: stored,
    children: node.children,
    generation: node.generation,
  };
  if (!who.privileged && recordSize(changed) >= scope.limit('nodeSize')) {
    scope.writeFailed();
    throw new XenstoreError('ENOSPC', 'node too large', 'SET_PERMS', path);
  }
  scope.access.put(path, changed);
  scope.fire({ path, mode: 'tree', perms: readPermissions(scope, node) }, changed);
}

/**
 * SET_PERMS's entry count against the permission quota (ENOSPC for a guest over it), which C
 * checks before it even parses the entries.
 */
export function checkPermissionCount(scope: Scope, count: number): void {
  if (!scope.who.privileged && count > scope.limit('permissions')) {
    throw new XenstoreError('ENOSPC', 'too many permission entries', 'SET_PERMS');
  }
}

/**
 * A permission list as SET_PERMS stores it, checked as C does before even looking at the path: an
 * owner that exists (ENOENT). Entries for other
 * domains that do not exist are kept but marked ignored for good.
 */
export function storedPermissions(scope: Scope, perms: NodePermissions): NodePermissions {
  const owner = perms[0]!.domid;
  if (!scope.domainExists(owner)) {
    throw new XenstoreError('ENOENT', `owner domain ${owner} does not exist`, 'SET_PERMS');
  }
  return perms.map((entry, i) =>
    i > 0 && !scope.domainExists(entry.domid) ? { ...entry, ignored: true } : entry,
  );
}
