import { XenstoreError } from '../errors.ts';
import { assertValidPath } from '../paths.ts';
import type { Permission } from '../permissions.ts';
import type { ReplyValue } from '../replies.ts';
import type { Request } from '../requests.ts';
import { listDirectory } from './directory.ts';

/** Per-request options, accepted by every operation. */
export interface RequestOptions {
  /**
   * Milliseconds to wait for the reply before failing with `ETIMEDOUT`; defaults to the client's
   * `timeout`. `0` or `Infinity` waits for ever.
   */
  readonly timeout?: number;
  /** Aborting rejects the request with `ABORT_ERR` (the server may still carry it out). */
  readonly signal?: AbortSignal;
}

/** Sends one request and decodes its reply. */
export type Exchange = <R extends Request>(
  request: R,
  options: RequestOptions | undefined,
) => Promise<ReplyValue<R['op']>>;

/**
 * The node operations shared by the client and its transactions: the same calls, sent outside
 * any transaction or inside one.
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

  /** The value of a node, as bytes (a view, not a copy). */
  read(path: string, options?: RequestOptions): Promise<Buffer> {
    return this.pathRequest({ op: 'READ', path }, options);
  }

  /** The value of a node decoded as UTF-8. */
  async readString(path: string, options?: RequestOptions): Promise<string> {
    return (await this.read(path, options)).toString('utf8');
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

  /** Replaces a node's permission list. */
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
    return this.pathRequest({ op: 'SET_PERMS', path, perms }, options);
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
