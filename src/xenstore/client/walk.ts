import { isXenstoreError } from '../errors.ts';
import { joinPath } from '../paths.ts';
import type { RequestOptions } from './node-operations.ts';

/**
 * One node met by `walk()`: its path, its value and the names of its children.
 * @category Client
 */
export interface WalkEntry {
  /** The node's path, absolute or relative as the walk's starting path was. */
  readonly path: string;
  /** The node's value, as bytes. */
  readonly value: Buffer;
  /** The names of its children, in the server's order; the walk visits them in this order. */
  readonly children: readonly string[];
}

/** What `walk()` needs of a client, a transaction or a pool. */
export interface WalkSource {
  read(path: string, options?: RequestOptions): Promise<Buffer>;
  directory(path: string, options?: RequestOptions): Promise<string[]>;
}

/**
 * The subtree at `top`, depth first, each node before its children. A node's value and children
 * are asked for together, and the children of a node all at once when it is reached, so a level
 * of the tree costs one round trip on a pipelining client. A node removed between being listed
 * and being read is left out with its subtree; `top` itself missing is `ENOENT`.
 */
export async function* walkTree(
  source: WalkSource,
  top: string,
  options: RequestOptions | undefined,
): AsyncGenerator<WalkEntry, void, undefined> {
  yield* visit(source, await fetchNode(source, top, options), options);
}

async function* visit(
  source: WalkSource,
  entry: WalkEntry,
  options: RequestOptions | undefined,
): AsyncGenerator<WalkEntry, void, undefined> {
  yield entry;
  const below = entry.children.map((name) =>
    fetchNode(source, joinPath(entry.path, name), options).catch((error: unknown) => {
      if (isXenstoreError(error, 'ENOENT')) return 'gone' as const;
      throw error;
    }),
  );
  // A walk left early must not leave the rejections of the requests it had sent unhandled.
  for (const pending of below) pending.catch(() => {});
  for (const pending of below) {
    const child = await pending;
    if (child !== 'gone') yield* visit(source, child, options);
  }
}

/** A node's value and children, asked for together. */
async function fetchNode(
  source: WalkSource,
  path: string,
  options: RequestOptions | undefined,
): Promise<WalkEntry> {
  const [value, children] = await Promise.all([
    source.read(path, options),
    source.directory(path, options),
  ]);
  return { path, value, children };
}
