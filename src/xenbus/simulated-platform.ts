import type { SimulatedHypervisor } from '../evtchn/index.ts';
import type { DevicePlatform, SharedPages } from './platform.ts';

/** Ends each page's sharing even if one fails, then reports the first failure. */
function releaseAll(refs: readonly number[], end: (ref: number) => void): () => void {
  return () => {
    let failure: unknown;
    for (const ref of refs) {
      try {
        end(ref);
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  };
}

/**
 * Domain `domid` of a {@link SimulatedHypervisor} (in this thread, or attached in a worker with
 * `SimulatedHypervisor.fromShared`) as a {@link DevicePlatform}.
 */
export function simulatedPlatform(hv: SimulatedHypervisor, domid: number): DevicePlatform {
  const eventChannel = hv.openEventChannel(domid);
  return {
    domid,
    eventChannel,
    grantPages(remote, count): SharedPages {
      // Consecutive refs, so that a multi-page ring is one stretch of memory at both ends.
      const grants = hv.grants.grantRange(domid, remote, count);
      const refs = grants.map((grant) => grant.ref);
      return {
        pages: grants.map((grant) => grant.page),
        refs,
        release: releaseAll(refs, (ref) => hv.grants.endAccess(domid, ref)),
      };
    },
    mapGrants(remote, refs, options = {}): SharedPages {
      const pages: Uint8Array[] = [];
      try {
        for (const ref of refs) pages.push(hv.grants.map(domid, remote, ref, options));
      } catch (error) {
        for (const ref of refs.slice(0, pages.length)) hv.grants.unmap(domid, remote, ref);
        throw error;
      }
      return {
        pages,
        refs: [...refs],
        release: releaseAll(refs, (ref) => hv.grants.unmap(domid, remote, ref)),
      };
    },
    domainAlive: async (remote) => hv.domains().includes(remote),
    close: () => {
      if (!eventChannel.closed) eventChannel.close();
    },
  };
}
