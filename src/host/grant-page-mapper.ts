import type { SimulatedHypervisor } from '../evtchn/sim/hypervisor.ts';
import type { PageMapper } from '../xenstore/transport/ring-server.ts';

/**
 * A {@link PageMapper} for the simulated hypervisor: INTRODUCE's gfn is the grant reference
 * under which the guest granted its xenstore page to `serverDomid`, mapped as gntdev would.
 */
export function grantPageMapper(hv: SimulatedHypervisor, serverDomid = 0): PageMapper {
  return {
    map: (domid, gfn) => hv.grants.map(serverDomid, domid, Number(gfn)),
    unmap: (domid, gfn) => hv.grants.unmap(serverDomid, domid, Number(gfn)),
  };
}
