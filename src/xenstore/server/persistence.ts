import { XenstoreError } from '../errors.ts';
import { joinPath, parentPath, pathProblem } from '../paths.ts';
import { formatPermission, parsePermission } from '../permissions.ts';
import { EMPTY_VALUE, type Node, type NodePermissions, newNode } from './node.ts';
import type { Store } from './store.ts';

/**
 * A node in a dump or seed.
 * @category Server
 */
export interface DumpedNode {
  /** Absolute path. Missing ancestors are created empty, inheriting their parent's permissions. */
  readonly path: string;
  /** The value as UTF-8 text. */
  readonly value?: string;
  /** The value as base64, for bytes that are not text. */
  readonly valueBase64?: string;
  /** Permission entries such as `n0`, `r5`; inherited from the parent when absent. */
  readonly perms?: readonly string[];
  /**
   * Positions in `perms` of entries that count for no domain: they named one that did not exist,
   * or lapsed with a released one. GET_PERMS still shows them.
   */
  readonly ignored?: readonly number[];
}

/**
 * An introduced domain in a dump.
 * @category Server
 */
export interface DumpedDomain {
  /** The domain's id. */
  readonly domid: number;
  /** The ring's guest frame number, as decimal text. */
  readonly gfn: string;
  /** The ring's event channel. */
  readonly port: number;
}

/**
 * The JSON form of a store: `server.dump()` writes it, the `seed` option reads it.
 * @category Server
 */
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
  /** As {@link DumpedNode.ignored}, for `specialPermissions`. */
  readonly specialIgnored?: Readonly<Record<string, readonly number[]>>;
}

/** A permission list as dumped: entries in wire form, and which of them count for nobody. */
export function dumpPermissions(perms: NodePermissions): {
  perms: string[];
  ignored?: number[];
} {
  const ignored = perms.flatMap((entry, i) => (entry.ignored ? [i] : []));
  return { perms: perms.map(formatPermission), ...(ignored.length > 0 ? { ignored } : {}) };
}

/** The inverse of {@link dumpPermissions}; EINVAL for a bad or empty list. */
export function loadPermissions(
  texts: readonly string[],
  ignored: readonly number[] = [],
): NodePermissions {
  if (texts.length === 0) throw new XenstoreError('EINVAL', 'empty permission list');
  return Object.freeze(
    texts.map((text, i) => {
      const entry = parsePermission(text);
      return i > 0 && ignored.includes(i) ? { ...entry, ignored: true } : entry;
    }),
  );
}

/**
 * Every node of `store`, depth first in child order, so that loading rebuilds the same order.
 * `settle` gives a node's permissions as a request would read them (lapsed entries marked).
 */
export function dumpNodes(store: Store, settle: (node: Node) => NodePermissions): DumpedNode[] {
  const out: DumpedNode[] = [];
  const stack = ['/'];
  while (stack.length > 0) {
    const path = stack.pop()!;
    const node = store.get(path);
    if (!node) continue;
    out.push({ path, ...encodeValue(node.value), ...dumpPermissions(settle(node)) });
    const names = node.children.names();
    for (let i = names.length - 1; i >= 0; i--) stack.push(joinPath(path, names[i]!));
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
  const permsOf = (texts: readonly string[], ignored?: readonly number[]): NodePermissions => {
    const key = `${texts.join(',')}/${ignored?.join(',') ?? ''}`;
    let perms = interned.get(key);
    if (!perms) {
      perms = loadPermissions(texts, ignored);
      interned.set(key, perms);
    }
    return perms;
  };
  // Seeds list siblings together: remembering the last parent's permissions saves a lookup.
  let lastParentPath = '';
  let lastParentPerms: NodePermissions | undefined;
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
      const perms = entry.perms ? permsOf(entry.perms, entry.ignored) : existing.perms;
      store.put(path, { ...existing, value, perms });
      continue;
    }
    const parentName = parentPath(path);
    if (parentName !== lastParentPath || !lastParentPerms) {
      lastParentPerms = ensureNode(store, parentName);
      lastParentPath = parentName;
    }
    store.add(
      path,
      newNode(value, entry.perms ? permsOf(entry.perms, entry.ignored) : lastParentPerms),
    );
  }
}

/** Creates `path` and its missing ancestors as C would; the node's permissions. */
function ensureNode(store: Store, path: string): NodePermissions {
  const found = store.get(path);
  if (found) return found.perms;
  const perms = ensureNode(store, parentPath(path));
  store.add(path, newNode(EMPTY_VALUE, perms));
  return perms;
}
