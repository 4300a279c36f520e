import type { SharedPages } from '../xenbus/index.ts';
import { BlockError } from './errors.ts';

/** A page the frontend granted to the backend, reused from request to request. */
export interface PooledPage {
  readonly ref: number;
  /** The frontend's view of it. */
  readonly page: Uint8Array;
}

/** Grants `count` fresh pages to the backend (the platform's `grantPages`, bound to the peer). */
export type GrantPages = (count: number) => SharedPages;

interface Waiter {
  readonly count: number;
  readonly resolve: (pages: PooledPage[]) => void;
  readonly reject: (error: Error) => void;
}

/**
 * The frontend's granted pages. A userspace frontend cannot grant the memory of the buffers it
 * is given (gntalloc grants pages of its own), so it copies data through granted pages, which is
 * what a persistent-grant frontend does anyway: pages are granted once, in batches as demand
 * grows up to `limit`, and reused, most recently freed first (the LIFO blkif.h recommends, so a
 * backend keeping few grants mapped keeps the hot ones). Requests wait, in order, when every
 * page is in use.
 */
export class GrantPool {
  readonly #grant: GrantPages;
  #limit: number;
  readonly #batch: number;
  readonly #free: PooledPage[] = [];
  readonly #grants: SharedPages[] = [];
  readonly #waiters: Waiter[] = [];
  #granted = 0;
  #closed: Error | undefined;

  /**
   * @param grant - grants pages to the backend
   * @param limit - most pages ever granted
   * @param batch - pages granted at a time when more are needed
   */
  constructor(grant: GrantPages, limit: number, batch = 64) {
    this.#grant = grant;
    this.#limit = limit;
    this.#batch = batch;
  }

  /** Pages granted so far. */
  get granted(): number {
    return this.#granted;
  }

  /** Most pages one {@link take} may ask for. */
  get limit(): number {
    return this.#limit;
  }

  /**
   * `count` pages, once that many are free (granting more if the limit allows).
   * @throws BlockError `EINVAL` for more than the limit; the close's error after {@link close}
   */
  take(count: number): Promise<PooledPage[]> {
    if (this.#closed) return Promise.reject(this.#closed);
    if (count > this.#limit) {
      return Promise.reject(
        new BlockError('EINVAL', `${count} pages exceed the pool's ${this.#limit}`),
      );
    }
    if (this.#waiters.length === 0) {
      try {
        const pages = this.#takeNow(count);
        if (pages) return Promise.resolve(pages);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return new Promise((resolve, reject) => this.#waiters.push({ count, resolve, reject }));
  }

  /** Returns pages for reuse and serves waiting takers in order. */
  give(pages: readonly PooledPage[]): void {
    if (this.#closed) return;
    for (const page of pages) this.#free.push(page);
    while (this.#waiters.length > 0) {
      const waiter = this.#waiters[0] as Waiter;
      let taken: PooledPage[] | undefined;
      try {
        taken = this.#takeNow(waiter.count);
      } catch (error) {
        this.#waiters.shift();
        waiter.reject(error as Error);
        continue;
      }
      if (!taken) return;
      this.#waiters.shift();
      waiter.resolve(taken);
    }
  }

  /**
   * Fails waiting and later takers with `error`, keeping the grants (the backend may still use
   * them until the device has closed).
   */
  abort(error: Error): void {
    this.#closed ??= error;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#closed);
    this.#free.length = 0;
  }

  /**
   * Fails waiting and later takers with `error` and ends every grant, going on past failures
   * (a grant the backend still maps cannot end); returns their messages.
   */
  close(error: Error): string[] {
    this.abort(error);
    const problems: string[] = [];
    for (const shared of this.#grants.splice(0)) {
      try {
        shared.release();
      } catch (failure) {
        problems.push((failure as Error).message);
      }
    }
    return problems;
  }

  /**
   * Takes `count` free pages, granting more first if needed and allowed; `undefined` when they
   * must wait for pages in use.
   * @throws BlockError `EIO` when granting failed and the pages already granted can never be
   *   enough (the limit then shrinks to what was granted)
   */
  #takeNow(count: number): PooledPage[] | undefined {
    if (this.#free.length < count) {
      const want = Math.min(
        this.#limit - this.#granted,
        Math.max(this.#batch, count - this.#free.length),
      );
      if (this.#free.length + want < count) return undefined;
      let shared: SharedPages;
      try {
        shared = this.#grant(want);
      } catch (error) {
        // The platform has no more to give (gntalloc's limit, a full grant table): make do.
        this.#limit = this.#granted;
        if (count > this.#granted) {
          throw new BlockError('EIO', `cannot grant the ${count} pages a request needs`, {
            cause: error,
          });
        }
        return undefined;
      }
      this.#grants.push(shared);
      this.#granted += want;
      // Pushed in reverse so that the lowest refs are taken first.
      for (let i = want - 1; i >= 0; i--) {
        this.#free.push({ ref: shared.refs[i] as number, page: shared.pages[i] as Uint8Array });
      }
    }
    return this.#free.splice(this.#free.length - count, count);
  }
}
