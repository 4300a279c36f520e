import { XenstoreError } from '../errors.ts';
import { baseName, joinPath, parentPath, pathProblem } from '../paths.ts';
import { formatPermission, parsePermission } from '../permissions.ts';
import { addChild, EMPTY_VALUE, type Node, type NodePermissions, newNode } from './node.ts';
import type { Store } from './store.ts';

/** A node in a dump or seed. */
export interface DumpedNode {
  /** Absolute path. Missing ancestors are created empty, inheriting their parent's permissions. */
  readonly path: string;
  /** The value as UTF-8 text. */
  readonly value?: string;
  /** The value as base64, for bytes that are not text. */
  readonly valueBase64?: string;
  /** Permission entries such as `n0`, `r5`; inherited from the parent when absent. */
  readonly perms?: readonly string[];
}

/** An introduced domain in a dump. */
export interface DumpedDomain {
  /** The domain's id. */
  readonly domid: number;
  /** The ring's guest frame number, as decimal text. */
  readonly gfn: string;
  /** The ring's event channel. */
  readonly port: number;
}

/** The JSON form of a store: `server.dump()` writes it, the `seed` option reads it. */
export interface StoreDump {
  /** Marks the JSON as a store dump. */
  readonly format?: 'xenwire-store';
  /** The dump format's version. */
  readonly version?: 1;
  /** Nodes, each after its parent when both are listed. */
  readonly nodes: readonly DumpedNode[];
  /** Introduced domains, with their rings. */
  readonly domains?: readonly DumpedDomain[];
  /** Permissions of `@introduceDomain` and `@releaseDomain`. */
  readonly specialPermissions?: Readonly<Record<string, readonly string[]>>;
}

/** Every node of `store`, depth first in child order, so that loading rebuilds the same order. */
export function dumpNodes(store: Store): DumpedNode[] {
  const out: DumpedNode[] = [];
  const stack = ['/'];
  while (stack.length > 0) {
    const path = stack.pop()!;
    const node = store.get(path);
    if (!node) continue;
    out.push({ path, ...encodeValue(node.value), perms: node.perms.map(formatPermission) });
    for (let i = node.children.length - 1; i >= 0; i--) {
      stack.push(joinPath(path, node.children[i]!));
    }
  }
  return out;
}

function encodeValue(value: Uint8Array): { value: string } | { valueBase64: string } {
  const bytes = Buffer.from(value.buffer, value.byteOffset, value.length);
  const text = bytes.toString('utf8');
  return Buffer.byteLength(text) === bytes.length && Buffer.from(text).equals(bytes)
    ? { value: text }
    : { valueBase64: bytes.toString('base64') };
}

/**
 * Adds dumped nodes to `store` (existing nodes are overwritten). Identical permission lists are
 * shared, so a large seed costs little more than its paths and values. EINVAL for a bad path or
 * permission.
 */
export function loadNodes(store: Store, nodes: readonly DumpedNode[]): void {
  const interned = new Map<string, NodePermissions>();
  const permsOf = (texts: readonly string[]): NodePermissions => {
    const key = texts.join(',');
    let perms = interned.get(key);
    if (!perms) {
      if (texts.length === 0) throw new XenstoreError('EINVAL', 'empty permission list');
      perms = Object.freeze(texts.map(parsePermission));
      interned.set(key, perms);
    }
    return perms;
  };
  // Seeds list siblings together: remembering the last parent saves a lookup per node.
  let lastParentPath = '';
  let lastParent: Node | undefined;
  for (const entry of nodes) {
    const { path } = entry;
    const problem = pathProblem(path);
    if (problem || !path.startsWith('/')) {
      throw new XenstoreError('EINVAL', `seed: ${problem ?? 'relative path'}: ${path}`);
    }
    const value =
      entry.valueBase64 !== undefined
        ? Buffer.from(entry.valueBase64, 'base64')
        : entry.value
          ? Buffer.from(entry.value)
          : EMPTY_VALUE;
    const existing = store.get(path);
    if (existing) {
      const perms = entry.perms ? permsOf(entry.perms) : existing.perms;
      store.put(path, { ...existing, value, perms });
      continue;
    }
    const parentName = parentPath(path);
    if (parentName !== lastParentPath || !lastParent) {
      lastParent = ensureNode(store, parentName);
      lastParentPath = parentName;
    }
    const node = newNode(value, entry.perms ? permsOf(entry.perms) : lastParent.perms);
    addChild(lastParent, baseName(path));
    store.add(path, node);
  }
}

function ensureNode(store: Store, path: string): Node {
  const found = store.get(path);
  if (found) return found;
  const parent = ensureNode(store, parentPath(path));
  const node = newNode(EMPTY_VALUE, parent.perms);
  addChild(parent, baseName(path));
  store.add(path, node);
  return node;
}
