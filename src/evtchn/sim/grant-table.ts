import { checkDomid } from '../arguments.ts';
import { EvtchnError } from '../errors.ts';
import { GrantFlag, type SharedState } from './shared-state.ts';

/**
 * Grant references below this are reserved, as Linux reserves them (`GNTTAB_NR_RESERVED_ENTRIES`:
 * 0 console, 1 xenstore), so allocated refs look like the ones a real guest hands out.
 */
export const FIRST_FREE_GRANT_REF = 8;

/**
 * Grant reference of a guest's console page, which the toolstack grants to the console
 * backend's domain before the guest runs (`GNTTAB_RESERVED_CONSOLE`, `grant_table.h`).
 */
export const GNTTAB_RESERVED_CONSOLE = 0;
/** Grant reference of a guest's xenstore page (`GNTTAB_RESERVED_XENSTORE`). */
export const GNTTAB_RESERVED_XENSTORE = 1;

/** Access options for a grant or a mapping. */
export interface GrantOptions {
  /** The grantee may only read (`GTF_readonly`); a writable map of it fails with `EPERM`. */
  readonly readonly?: boolean;
}

/** A page a domain has granted: its reference and the granter's own view of the memory. */
export interface Grant {
  /** The grant reference to hand to the peer (through xenstore, as a frontend does). */
  readonly ref: number;
  /** The granted page (4096 bytes) as the granter sees it: writes show in the peer's mapping. */
  readonly page: Uint8Array;
}

/**
 * Per-domain grant tables of a {@link SimulatedHypervisor}: the gntalloc side (grant a page to a
 * domain, end access) and the gntdev side (map a foreign grant, unmap). A mapping is a view of the
 * same shared memory the granter writes, in whichever thread maps it. Read-only grants are enforced
 * at map time; the returned view itself cannot be made read-only in JavaScript.
 */
export class SimulatedGrantTable {
  /** @internal Built by the hypervisor (`hv.grants`), over its shared state. */
  constructor(private readonly state: SharedState) {}

  /**
   * Grants a fresh zeroed page of `domid` to `granteeDomid` (like `IOCTL_GNTALLOC_ALLOC_GREF`).
   * @throws `ESRCH` unknown domain, `EINVAL` bad grantee, `ENOSPC` table full
   */
  grantAccess(domid: number, granteeDomid: number, options: GrantOptions = {}): Grant {
    return this.grantRange(domid, granteeDomid, 1, options)[0] as Grant;
  }

  /**
   * Grants `count` fresh zeroed pages under consecutive refs, whose pages are therefore adjacent
   * in the host's memory: a multi-page ring, which a real guest maps contiguously, needs them so.
   * @throws `ESRCH` unknown domain, `EINVAL` bad grantee or count, `ENOSPC` no such run of free
   *   refs
   */
  grantRange(
    domid: number,
    granteeDomid: number,
    count: number,
    options: GrantOptions = {},
  ): Grant[] {
    const s = this.state;
    checkDomid(granteeDomid, 'grantAccess');
    if (!Number.isInteger(count) || count < 1) {
      throw new EvtchnError('EINVAL', `grantAccess: ${count} is not a count of pages`);
    }
    return s.locked(() => {
      const slot = s.requireSlot(domid, 'grantAccess');
      let run = 0;
      for (let ref = FIRST_FREE_GRANT_REF; ref < s.limits.grantsPerDomain; ref++) {
        run = s.grant(slot, ref).flags & GrantFlag.inUse ? 0 : run + 1;
        if (run < count) continue;
        const flags = GrantFlag.inUse | (options.readonly ? GrantFlag.readonly : 0);
        const grants: Grant[] = [];
        for (let first = ref - count + 1, r = first; r <= ref; r++) {
          s.setGrant(slot, r, flags, granteeDomid, 0);
          const page = s.page(slot, r);
          clearPage(page);
          grants.push({ ref: r, page });
        }
        return grants;
      }
      throw new EvtchnError('ENOSPC', `grantAccess: no ${count} free refs in a row`);
    });
  }

  /**
   * Fills reserved entry `ref` (below {@link FIRST_FREE_GRANT_REF}) of `domid` with a fresh zeroed
   * page granted to `granteeDomid`, as the toolstack seeds a new guest's console and xenstore
   * entries (`xc_dom_gnttab_seed`).
   * @throws `ESRCH` unknown domain, `EINVAL` not a reserved ref or bad grantee, `EEXIST` in use
   */
  seed(domid: number, ref: number, granteeDomid: number): Grant {
    const s = this.state;
    checkDomid(granteeDomid, 'seed');
    if (!Number.isInteger(ref) || ref < 0 || ref >= FIRST_FREE_GRANT_REF) {
      throw new EvtchnError('EINVAL', `seed: ref ${ref} is not a reserved entry`);
    }
    return s.locked(() => {
      const slot = s.requireSlot(domid, 'seed');
      if (s.grant(slot, ref).flags & GrantFlag.inUse) {
        throw new EvtchnError('EEXIST', `seed: ref ${ref} is in use`);
      }
      s.setGrant(slot, ref, GrantFlag.inUse, granteeDomid, 0);
      const page = s.page(slot, ref);
      clearPage(page);
      return { ref, page };
    });
  }

  /**
   * Ends a grant (like `IOCTL_GNTALLOC_DEALLOC_GREF`). With `deferred`, a grant the grantee
   * still maps stays until its last mapping goes, as Linux's `gnttab_end_foreign_access` does
   * for gntalloc pages, instead of failing.
   * @throws `EINVAL` ref not granted (or already ending), `EBUSY` the grantee still maps it
   */
  endAccess(domid: number, ref: number, options: { readonly deferred?: boolean } = {}): void {
    const s = this.state;
    s.locked(() => {
      const slot = s.requireSlot(domid, 'endAccess');
      const grant = this.#requireGrant(slot, ref, 'endAccess');
      if (grant.flags & GrantFlag.ending) {
        throw new EvtchnError('EINVAL', `endAccess: ref ${ref} is already ending`);
      }
      if (grant.maps === 0) {
        s.setGrant(slot, ref, 0, 0, 0);
      } else if (options.deferred) {
        s.setGrant(slot, ref, grant.flags | GrantFlag.ending, grant.grantee, grant.maps);
      } else {
        throw new EvtchnError('EBUSY', `endAccess: ref ${ref} is still mapped`);
      }
    });
  }

  /**
   * Maps grant `ref` of `grantingDomid` into `domid` (like `IOCTL_GNTDEV_MAP_GRANT_REF` + mmap).
   * @throws `ESRCH` unknown domain, `EINVAL` ref not granted, `EPERM` granted to another domain
   *   or a writable map of a read-only grant
   */
  map(domid: number, grantingDomid: number, ref: number, options: GrantOptions = {}): Uint8Array {
    const s = this.state;
    return s.locked(() => {
      s.requireSlot(domid, 'map');
      const slot = s.requireSlot(grantingDomid, 'map');
      const grant = this.#requireGrant(slot, ref, 'map');
      if (grant.grantee !== domid || grant.flags & GrantFlag.ending) {
        throw new EvtchnError('EPERM', `map: ref ${ref} is not granted to domain ${domid}`);
      }
      if (grant.flags & GrantFlag.readonly && !options.readonly) {
        throw new EvtchnError('EPERM', `map: ref ${ref} is read-only`);
      }
      s.setGrant(slot, ref, grant.flags, grant.grantee, grant.maps + 1);
      return s.page(slot, ref);
    });
  }

  /**
   * Drops one mapping made by {@link map}.
   * @throws `EINVAL` when `domid` has no mapping of that grant
   */
  unmap(domid: number, grantingDomid: number, ref: number): void {
    const s = this.state;
    s.locked(() => {
      const slot = s.requireSlot(grantingDomid, 'unmap');
      const grant = this.#requireGrant(slot, ref, 'unmap');
      if (grant.grantee !== domid || grant.maps === 0) {
        throw new EvtchnError('EINVAL', `unmap: ref ${ref} is not mapped by domain ${domid}`);
      }
      const maps = grant.maps - 1;
      if (maps === 0 && grant.flags & GrantFlag.ending) s.setGrant(slot, ref, 0, 0, 0);
      else s.setGrant(slot, ref, grant.flags, grant.grantee, maps);
    });
  }

  /** Forgets every grant of a dying domain. Call with the lock held. @internal */
  revokeAllLocked(slot: number): void {
    for (let ref = 0; ref < this.state.limits.grantsPerDomain; ref++) {
      this.state.setGrant(slot, ref, 0, 0, 0);
    }
  }

  #requireGrant(slot: number, ref: number, operation: string) {
    const inRange = Number.isInteger(ref) && ref >= 0 && ref < this.state.limits.grantsPerDomain;
    const grant = inRange ? this.state.grant(slot, ref) : undefined;
    if (!grant || !(grant.flags & GrantFlag.inUse)) {
      throw new EvtchnError('EINVAL', `${operation}: ref ${String(ref)} is not granted`);
    }
    return grant;
  }
}

/**
 * Zeroes a page for its next grant, without writing to one that is zero already: a page never
 * written to is not committed memory yet, and a write would commit it.
 */
function clearPage(page: Uint8Array): void {
  const words = new Int32Array(page.buffer, page.byteOffset, page.length / 4);
  for (let i = 0; i < words.length; i++) {
    if (words[i] !== 0) {
      page.fill(0);
      return;
    }
  }
}
