import type { UnmapNotify } from '../device/index.ts';
import type { SimulatedHypervisor } from '../evtchn/index.ts';
import { XEN_PAGE_SIZE } from '../ring/index.ts';
import type { DevicePlatform, SharedPages } from './platform.ts';

/** Ends each page's sharing even if one fails, then reports the first failure. */
function releaseAll(refs: readonly number[], end: (ref: number) => void): void {
  let failure: unknown;
  for (const ref of refs) {
    try {
      end(ref);
    } catch (error) {
      failure ??= error;
    }
  }
  if (failure !== undefined) throw failure;
}

/**
 * Domain `domid` of a {@link SimulatedHypervisor} (in this thread, or attached in a worker with
 * `SimulatedHypervisor.fromShared`) as a {@link DevicePlatform}.
 */
export function simulatedPlatform(hv: SimulatedHypervisor, domid: number): DevicePlatform {
  const eventChannel = hv.openEventChannel(domid);
  /** Pages not yet released, each with how to let go of them: what the kernel would undo. */
  const held = new Set<() => void>();

  /** What the grant devices do on the final unmap: clear the byte, then notify the port. */
  function notifyUnmap(pages: readonly Uint8Array[], notify: UnmapNotify | undefined): void {
    if (notify === undefined) return;
    if (notify.clearByte !== undefined) {
      const page = pages[Math.floor(notify.clearByte / XEN_PAGE_SIZE)];
      if (page) Atomics.store(page, notify.clearByte % XEN_PAGE_SIZE, 0);
    }
    if (notify.port !== undefined && !eventChannel.closed) {
      try {
        eventChannel.notify(notify.port);
      } catch {
        // The port is gone (its peer's domain died): nobody is left to tell.
      }
    }
  }

  function track(
    pages: Uint8Array[],
    refs: readonly number[],
    notify: UnmapNotify | undefined,
    end: (ref: number) => void,
  ): SharedPages {
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      held.delete(release);
      notifyUnmap(pages, notify);
      releaseAll(refs, end);
    };
    held.add(release);
    return { pages, refs: [...refs], release };
  }

  return {
    domid,
    eventChannel,
    grantPages(remote, count, options = {}): SharedPages {
      // Consecutive refs, so that the pages are one stretch of memory at both ends, as one
      // gntalloc allocation is for its granter and one gntdev mapping for the peer.
      const grants = hv.grants.grantRange(domid, remote, count);
      return track(
        grants.map((grant) => grant.page),
        grants.map((grant) => grant.ref),
        options.unmapNotify,
        // gntalloc frees a page the peer still maps only once the peer lets go of it.
        (ref) => hv.grants.endAccess(domid, ref, { deferred: true }),
      );
    },
    mapGrants(remote, refs, options = {}): SharedPages {
      const pages: Uint8Array[] = [];
      try {
        for (const ref of refs) pages.push(hv.grants.map(domid, remote, ref, options));
      } catch (error) {
        for (const ref of refs.slice(0, pages.length)) hv.grants.unmap(domid, remote, ref);
        throw error;
      }
      return track(pages, refs, options.unmapNotify, (ref) => hv.grants.unmap(domid, remote, ref));
    },
    domainAlive: async (remote) => hv.domains().includes(remote),
    close: () => {
      // A dying process's pages go before its event channels, so their notifications get out.
      for (const release of [...held]) {
        try {
          release();
        } catch {
          // Grants of a destroyed domain are already gone.
        }
      }
      if (!eventChannel.closed) eventChannel.close();
    },
  };
}
