import { REL_PATH_MAX } from './constants.ts';
import { XenstoreError } from './errors.ts';

/**
 * Xenstore paths: `/`-separated, absolute from `/`, or relative to the caller's home
 * `/local/domain/<domid>`, or `@name` for the special watch paths.
 */

/** The characters a path may hold, by character code: A-Za-z0-9-/_@. */
const ALLOWED = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-/_@') {
  ALLOWED[c.charCodeAt(0)] = 1;
}
const SLASH = 0x2f;
const localPrefix = /^\/local\/domain\/(\d{1,5})\//;

/**
 * The home of a domain, which relative paths are resolved against.
 * @category Codec
 */
export function domainPath(domid: number): string {
  return `/local/domain/${domid}`;
}

/**
 * True for `@introduceDomain`-style special paths, which are only valid as watch paths.
 * @category Codec
 */
export function isSpecialPath(path: string): boolean {
  return path.startsWith('@');
}

/**
 * True for paths that start with `/`.
 * @category Codec
 */
export function isAbsolutePath(path: string): boolean {
  return path.startsWith('/');
}

/**
 * Why `path` is not a valid node path, or `undefined` when it is. Relative paths are checked as
 * written; resolve them first to apply the length limit the way xenstored does.
 * @category Codec
 */
export function pathProblem(path: string): string | undefined {
  const length = path.length;
  if (length === 0) return 'empty path';
  // One pass over the characters: every request checks its path, and this beats a regex and
  // two searches several times over.
  let previous = 0;
  let emptyComponent = false;
  for (let i = 0; i < length; i++) {
    const c = path.charCodeAt(i);
    if (c >= ALLOWED.length || ALLOWED[c] === 0) {
      return 'path holds a character outside A-Za-z0-9-/_@';
    }
    if (c === SLASH && previous === SLASH) emptyComponent = true;
    previous = c;
  }
  if (emptyComponent) return 'path holds an empty component';
  if (length > 1 && previous === SLASH) return 'path ends with /';
  // xenstored (4.17) allows REL_PATH_MAX characters beyond a leading /local/domain/<id>/, and
  // REL_PATH_MAX in total for any other absolute path; the protocol document's 3072 is never reached.
  if (length <= REL_PATH_MAX || !isAbsolutePath(path)) return undefined;
  const prefix = localPrefix.exec(path)?.[0].length ?? 0;
  if (path.length > prefix + REL_PATH_MAX) return `path longer than ${REL_PATH_MAX} characters`;
  return undefined;
}

/**
 * Throws EINVAL unless `path` is a valid node path (absolute or relative; not `@`).
 * @category Codec
 */
export function assertValidPath(path: string, op?: string): void {
  const problem = isSpecialPath(path)
    ? 'special path where a node path is needed'
    : pathProblem(path);
  if (problem) throw new XenstoreError('EINVAL', `${problem}: ${JSON.stringify(path)}`, op, path);
}

/**
 * Throws EINVAL unless `path` is valid as a watch path: a node path or any `@name`.
 * @category Codec
 */
export function assertValidWatchPath(path: string, op?: string): void {
  if (isSpecialPath(path)) {
    if (path.length > REL_PATH_MAX) {
      throw new XenstoreError('EINVAL', 'special path too long', op, path);
    }
    return;
  }
  assertValidPath(path, op);
}

/**
 * Makes a relative path absolute against `domid`'s home; absolute and `@` paths are returned as is.
 * @category Codec
 */
export function resolvePath(path: string, domid: number): string {
  if (isAbsolutePath(path) || isSpecialPath(path)) return path;
  return `${domainPath(domid)}/${path}`;
}

/**
 * Undoes {@link resolvePath} for event paths of watches that were registered relative.
 * @category Codec
 */
export function relativize(path: string, domid: number): string {
  const home = `${domainPath(domid)}/`;
  return path.startsWith(home) ? path.slice(home.length) : path;
}

/**
 * True when `child` is `parent` itself or lies below it, component-wise: `/a/b` is under `/a`,
 * `/ab` is not. Everything is under `/`.
 * @category Codec
 */
export function isSubpath(parent: string, child: string): boolean {
  if (parent === child || parent === '/') return true;
  return child.length > parent.length && child.startsWith(parent) && child[parent.length] === '/';
}

/**
 * The parent of an absolute path (`/` for top-level nodes and for `/` itself).
 * @category Codec
 */
export function parentPath(path: string): string {
  const cut = path.lastIndexOf('/');
  return cut <= 0 ? '/' : path.slice(0, cut);
}

/**
 * The last component of a path.
 * @category Codec
 */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * Joins a parent path and a child name.
 * @category Codec
 */
export function joinPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}
