import { isXenstoreError, XenstoreError } from '../errors.ts';
import { assertValidPath } from '../paths.ts';
import type { Permission } from '../permissions.ts';
import type { ReplyValue } from '../replies.ts';
import type { Request } from '../requests.ts';
import { listDirectory } from './directory.ts';
import { type WalkEntry, walkTree } from './walk.ts';

/**
 * Per-request options, accepted by every operation.
 * @category Client
 */
export interface RequestOptions {
  /**
   * Milliseconds to wait for the reply before failing with `ETIMEDOUT`; defaults to the client's
   * `timeout`. `0` or `Infinity` waits for ever.
   */
  readonly timeout?: number;
  /** Aborting rejects the request with `ABORT_ERR` (the server may still carry it out). */
  readonly signal?: AbortSignal;
}

/**
 * Options of `read()` and `readString()` with a default: a missing node (`ENOENT`) reads as
 * `default` instead of failing.
 * @category Client
 */
export interface ReadOptions<D> extends RequestOptions {
  /** What a missing node reads as. */
  readonly default: D;
}

/** What `readString()` asks `read()` to return for a missing node, told apart from any value. */
const missing: unique symbol = Symbol('missing');

/** Sends one request and decodes its reply. */
export type Exchange = <R extends Request>(
  request: R,
  options: RequestOptions | undefined,
) => Promise<ReplyValue<R['op']>>;

/**
 * The node operations shared by the client and its transactions: the same calls, sent outside
 * any transaction or inside one.
 * @category Client
 */
export abstract class NodeOperations {
  /** Sends a request outside any transaction (the client) or inside this one (a transaction). */
  protected abstract exchange<R extends Request>(
    request: R,
    options: RequestOptions | undefined,
  ): Promise<ReplyValue<R['op']>>;

  /** Lets a subclass that fronts other clients (a pool) send through one of them. */
  protected static exchangeThrough<R extends Request>(
    through: NodeOperations,
    request: R,
    options: RequestOptions | undefined,
  ): Promise<ReplyValue<R['op']>> {
    return through.exchange(request, options);
  }

  /** Sends a request naming a node path, after checking the path locally. */
  protected pathRequest<R extends Request & { path: string }>(
    request: R,
    options: RequestOptions | undefined,
  ): Promise<ReplyValue<R['op']>> {
    try {
      assertValidPath(request.path, request.op);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.exchange(request, options);
  }

  /**
   * The value of a node, as bytes (a view, not a copy). With `{ default }`, a missing node
   * reads as that instead of failing with `ENOENT`:
   * `await xs.read('/vm/x/image', { default: undefined })`.
   */
  read(path: string, options?: RequestOptions): Promise<Buffer>;
  read<D>(path: string, options: ReadOptions<D>): Promise<Buffer | D>;
  read<D>(path: string, options?: RequestOptions | ReadOptions<D>): Promise<Buffer | D> {
    const reply = this.pathRequest({ op: 'READ', path }, options);
    // Without a default the request's own promise is the answer: no async frame around it,
    // whose extra promise and turns of the microtask queue would be paid on every read.
    if (!(options && 'default' in options)) return reply;
    const fallback = options.default;
    return reply.catch((error: unknown) => {
      if (isXenstoreError(error, 'ENOENT')) return fallback;
      throw error;
    });
  }

  /**
   * The value of a node decoded as UTF-8. With `{ default }`, a missing node reads as that:
   * `await xs.readString('/vm/x/name', { default: 'unnamed' })`.
   */
  readString(path: string, options?: RequestOptions): Promise<string>;
  readString<D>(path: string, options: ReadOptions<D>): Promise<string | D>;
  async readString<D>(
    path: string,
    options?: RequestOptions | ReadOptions<D>,
  ): Promise<string | D> {
    if (!(options && 'default' in options))
      return (await this.read(path, options)).toString('utf8');
    const value = await this.read(path, { ...options, default: missing });
    return value === missing ? options.default : value.toString('utf8');
  }

  /** Sets a node's value (a string is written as UTF-8), creating the node and its parents. */
  write(path: string, value: string | Uint8Array, options?: RequestOptions): Promise<void> {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    return this.pathRequest({ op: 'WRITE', path, value: bytes }, options);
  }

  /** Creates a node with an empty value, and its parents; an existing node is left alone. */
  mkdir(path: string, options?: RequestOptions): Promise<void> {
    return this.pathRequest({ op: 'MKDIR', path }, options);
  }

  /** Removes a node and everything below it; a missing node whose parent exists is no error. */
  rm(path: string, options?: RequestOptions): Promise<void> {
    return this.pathRequest({ op: 'RM', path }, options);
  }

  /**
   * The names of a node's children. A listing too large for one reply (E2BIG) is fetched in
   * DIRECTORY_PART slices, restarting whenever the node changes in between; a server without
   * DIRECTORY_PART leaves it at E2BIG, as libxenstore does.
   */
  directory(path: string, options?: RequestOptions): Promise<string[]> {
    try {
      assertValidPath(path, 'DIRECTORY');
    } catch (error) {
      return Promise.reject(error);
    }
    return listDirectory((request, opts) => this.exchange(request, opts), path, options);
  }

  /** A node's permission list; the first entry names the owner and the default access. */
  getPermissions(path: string, options?: RequestOptions): Promise<Permission[]> {
    return this.pathRequest({ op: 'GET_PERMS', path }, options);
  }

  /**
   * Replaces a node's permission list. `@introduceDomain` and `@releaseDomain` take one too: it
   * says which domains receive their watch events (by default dom0 only).
   */
  setPermissions(
    path: string,
    perms: readonly Permission[],
    options?: RequestOptions,
  ): Promise<void> {
    if (perms.length === 0) {
      return Promise.reject(
        new XenstoreError('EINVAL', 'a permission list needs an owner', 'SET_PERMS', path),
      );
    }
    // C filters the events of these two special paths by their permissions, set so.
    if (path === '@introduceDomain' || path === '@releaseDomain') {
      return this.exchange({ op: 'SET_PERMS', path, perms }, options);
    }
    return this.pathRequest({ op: 'SET_PERMS', path, perms }, options);
  }

  /**
   * The subtree at `path`, depth first, each node before its children, as `{ path, value,
   * children }` (pyxs's `walk`). A level of the tree costs one round trip; a node removed during
   * the walk is left out with its subtree, and `path` itself missing is `ENOENT`. Inside a
   * transaction the walk sees one consistent state of the tree.
   *
   * ```ts
   * for await (const { path, value } of xs.walk('/local/domain/0')) console.log(path, `${value}`);
   * ```
   */
  walk(path: string, options?: RequestOptions): AsyncGenerator<WalkEntry, void, undefined> {
    return walkTree(this, path, options);
  }

  /** True when the node exists; other failures (e.g. EACCES) are thrown, not taken for absence. */
  async exists(path: string, options?: RequestOptions): Promise<boolean> {
    try {
      await this.pathRequest({ op: 'GET_PERMS', path }, options);
      return true;
    } catch (error) {
      if (error instanceof XenstoreError && error.code === 'ENOENT') return false;
      throw error;
    }
  }
}
