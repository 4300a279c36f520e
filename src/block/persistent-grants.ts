import type { SharedPages } from '../xenbus/index.ts';

/** Maps a frontend's grants into the backend (the platform's `mapGrants`, bound to the peer). */
export type MapGrants = (refs: readonly number[], options: { readonly?: boolean }) => SharedPages;

/** The pages of one request's grants, held until its I/O is done. */
export interface GrantLease {
  /** One page per ref asked for, in order. */
  readonly pages: readonly Uint8Array[];
  /** Lets go: unmaps what was mapped for this request alone. Call once. */
  release(): void;
}

/** One mapping call's pages: unmapped once none of them is cached or leased. */
interface Batch {
  readonly pages: SharedPages;
  live: number;
}

interface Entry {
  readonly page: Uint8Array;
  readonly batch: Batch;
  /** Leases using it now: never evicted while above 0. */
  users: number;
  /** When it was last used (a count of acquisitions), for evicting the least recent. */
  stamp: number;
}

/**
 * The backend's grant mappings. With `feature-persistent` on both ends, a frontend reuses the same
 * grants for all its requests and lets them be mapped writable whatever the operation, so each
 * ref is mapped once and kept: the cost of mapping (an ioctl, an mmap, a TLB shootdown to undo)
 * goes away, and a request's data is copied to or from pages already there. Up to `capacity`
 * refs stay mapped, the least recently used going first (never one in use); beyond it a
 * request's new refs are mapped for it alone, as they are without persistent grants.
 *
 * The refs a request lacks are mapped in one call, so a cold 1 MiB request costs one mapping
 * rather than 256.
 */
export class GrantCache {
  readonly #map: MapGrants;
  readonly #capacity: number;
  readonly #entries = new Map<number, Entry>();
  /** Pages mapped for single requests, not cached. */
  #leased = 0;
  /** Acquisitions so far: the entries' clock. */
  #clock = 0;

  /**
   * @param map - maps the frontend's refs
   * @param capacity - refs kept mapped (0: nothing is kept, every request maps and unmaps)
   */
  constructor(map: MapGrants, capacity: number) {
    this.#map = map;
    this.#capacity = capacity;
  }

  /** Refs kept mapped now. */
  get persistent(): number {
    return this.#entries.size;
  }

  /** Pages mapped now: kept ones and those of requests in flight. */
  get mapped(): number {
    return this.#entries.size + this.#leased;
  }

  /**
   * The pages of `refs`. Kept refs are mapped writable; refs mapped for this request alone are
   * mapped read-only when `readOnly` (the request only reads guest memory).
   * @throws the platform's error when a ref cannot be mapped (nothing stays mapped then)
   */
  acquire(refs: readonly number[], readOnly: boolean): GrantLease {
    return this.#acquireKept(refs) ?? this.#acquireMapping(refs, readOnly);
  }

  /**
   * The common case, with persistent grants: every ref is kept already. One lookup per ref,
   * nothing mapped; undefined when a ref is not kept.
   */
  #acquireKept(refs: readonly number[]): GrantLease | undefined {
    const used: Entry[] = new Array(refs.length);
    const pages: Uint8Array[] = new Array(refs.length);
    for (let i = 0; i < refs.length; i++) {
      const entry = this.#entries.get(refs[i] as number);
      if (!entry) return undefined;
      used[i] = entry;
      pages[i] = entry.page;
    }
    const stamp = ++this.#clock;
    for (const entry of used) {
      entry.stamp = stamp;
      entry.users++;
    }
    return this.#leaseOf(pages, used);
  }

  /** Maps the refs not kept: kept from now on while there is room, for this request alone beyond. */
  #acquireMapping(refs: readonly number[], readOnly: boolean): GrantLease {
    let missing: number[] | undefined;
    for (const ref of refs) {
      if (this.#entries.has(ref)) continue;
      missing ??= [];
      missing.push(ref);
    }
    let own: SharedPages | undefined;
    let single: number[] = [];
    const ownPages = new Map<number, Uint8Array>();
    if (missing) {
      missing = [...new Set(missing)];
      const room = this.#makeRoom(missing.length, new Set(refs));
      const kept = missing.slice(0, room);
      single = missing.slice(room);
      if (kept.length > 0) this.#keep(kept);
      if (single.length > 0) {
        own = this.#map(single, { readonly: readOnly });
        this.#leased += single.length;
        for (const [i, ref] of single.entries()) ownPages.set(ref, own.pages[i] as Uint8Array);
      }
    }
    const stamp = ++this.#clock;
    const used: Entry[] = [];
    const pages = refs.map((ref) => {
      const entry = this.#entries.get(ref);
      if (!entry) return ownPages.get(ref) as Uint8Array;
      entry.stamp = stamp;
      entry.users++;
      used.push(entry);
      return entry.page;
    });
    return this.#leaseOf(pages, used, () => {
      if (!own) return;
      this.#leased -= single.length;
      own.release();
    });
  }

  /** A lease of `pages`, holding the kept `used` until released; `unmap` lets go of the rest. */
  #leaseOf(pages: readonly Uint8Array[], used: readonly Entry[], unmap?: () => void): GrantLease {
    let released = false;
    return {
      pages,
      release: () => {
        if (released) return;
        released = true;
        for (const entry of used) entry.users--;
        unmap?.();
      },
    };
  }

  /**
   * Unmaps every kept ref, going on past failures (a dead domain's grants may be gone already);
   * returns their messages. Leases still out unmap their own pages when released.
   */
  clear(): string[] {
    const problems: string[] = [];
    const batches = new Set([...this.#entries.values()].map((entry) => entry.batch));
    this.#entries.clear();
    for (const batch of batches) {
      try {
        batch.pages.release();
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
    return problems;
  }

  /** Maps `refs` in one call and keeps them. */
  #keep(refs: readonly number[]): void {
    const pages = this.#map(refs, {});
    const batch: Batch = { pages, live: refs.length };
    for (const [i, ref] of refs.entries()) {
      this.#entries.set(ref, { page: pages.pages[i] as Uint8Array, batch, users: 0, stamp: 0 });
    }
  }

  /**
   * Evicts entries neither in use nor `needed`, least recently used first, until `wanted` fit;
   * returns how many fit. Only a cache that is full pays for the sort.
   */
  #makeRoom(wanted: number, needed: ReadonlySet<number>): number {
    const over = this.#entries.size + wanted - this.#capacity;
    if (over > 0) {
      const candidates = [...this.#entries]
        .filter(([ref, entry]) => entry.users === 0 && !needed.has(ref))
        .sort((a, b) => a[1].stamp - b[1].stamp)
        .slice(0, over);
      for (const [ref, entry] of candidates) {
        this.#entries.delete(ref);
        if (--entry.batch.live === 0) {
          try {
            entry.batch.pages.release();
          } catch {
            // A dead domain's grants are gone with it; there is nothing left to unmap.
          }
        }
      }
    }
    return Math.max(0, Math.min(wanted, this.#capacity - this.#entries.size));
  }
}
