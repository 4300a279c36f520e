import { XenstoreError } from '../errors.ts';
import type { RequestOptions } from './node-operations.ts';
import type { Watch } from './watch.ts';

/**
 * When `wait()` is done: the node holds this value (compared as UTF-8 text), or this function
 * of its value (`undefined` while the node does not exist) returns true.
 * @category Client
 */
export type WaitCondition = string | ((value: Buffer | undefined) => boolean);

/**
 * Options of `wait()`.
 * @category Client
 */
export interface XenstoreWaitOptions extends RequestOptions {
  /**
   * Aborting ends the wait with `ABORT_ERR`; `AbortSignal.timeout(ms)` bounds it. (`timeout`
   * bounds each request the wait makes, not the wait.)
   */
  readonly signal?: AbortSignal;
}

/** What `wait()` needs of a client or a pool. */
export interface WaitSource {
  watch(path: string, options?: RequestOptions): Promise<Watch>;
  read(
    path: string,
    options: RequestOptions & { readonly default: undefined },
  ): Promise<Buffer | undefined>;
}

/** True once the node exists. */
const exists = (value: Buffer | undefined): boolean => value !== undefined;

/**
 * Watches `path` and reads it at registration and after every event until `condition` holds;
 * resolves with the value that satisfied it. The watch is registered before the first read, so
 * no change can slip between the two. Bursts of events cost one read each, at most.
 */
export async function waitUntil(
  source: WaitSource,
  path: string,
  condition: WaitCondition = exists,
  options: XenstoreWaitOptions | undefined,
): Promise<Buffer | undefined> {
  const holds =
    typeof condition === 'string'
      ? (value: Buffer | undefined) => value?.toString('utf8') === condition
      : condition;
  const watch = await source.watch(path, options);
  try {
    // The registration event comes first, so the node is read at once.
    for await (const _event of watch) {
      const value = await source.read(path, { ...options, default: undefined });
      if (holds(value)) return value;
    }
  } finally {
    await watch.close().catch(() => {});
  }
  // The watch ended without an error: by its signal, or by the client closing.
  const signal = options?.signal;
  if (signal?.aborted) {
    throw new XenstoreError('ABORT_ERR', {
      message: `wait for ${path} aborted`,
      op: 'WATCH',
      path,
      cause: signal.reason,
    });
  }
  throw new XenstoreError('ECONNRESET', {
    message: `the watch on ${path} ended before the condition held`,
    op: 'WATCH',
    path,
  });
}
