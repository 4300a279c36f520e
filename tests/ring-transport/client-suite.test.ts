import { createSimulatedHost, type SimulatedHost } from '../../src/host/index.ts';
import { ringConnector } from '../../src/xenstore/transport/ring.ts';
import type { TransportConnector } from '../../src/xenstore/transport/transport.ts';
import type { Backend } from '../client/backends.ts';
import { describeClientSuite } from '../client/client-suite.ts';

/** Where every guest of the run may read and write (owned by dom0, `b` for all). */
const SHARED = '/ring-suite';

/**
 * The client's whole suite over guest rings of the simulated host: each connection the suite
 * opens is a new guest domain, booted as a toolstack and a guest kernel do it, whose every byte
 * crosses its page's rings. Guests are unprivileged, so the dom0-only cases skip, and their
 * quotas are lifted, the suite being about the client rather than a guest's limits.
 */
const overRings: Backend = {
  name: 'the in-memory xenstored over guest rings (simulated host)',
  async start() {
    // The suite creates more and larger nodes than a guest may by default: lift the limits.
    const unlimited = 1_000_000;
    const host: SimulatedHost = await createSimulatedHost({
      hypervisor: { maxDomains: 32 },
      server: {
        quotas: {
          nodes: unlimited,
          watches: unlimited,
          transactions: unlimited,
          nodeSize: unlimited,
          transactionNodes: unlimited,
        },
      },
    });
    await host.dom0Client.mkdir(SHARED);
    await host.dom0Client.setPermissions(SHARED, [{ access: 'b', domid: 0 }]);
    const hv = host.hypervisor;
    const connector: TransportConnector = async (handlers) => {
      const domid = hv.createDomain();
      const grant = hv.grants.grantAccess(domid, 0);
      const eventChannel = hv.openEventChannel(domid);
      const port = eventChannel.bindUnboundPort(0);
      await host.dom0Client.introduceDomain(domid, grant.ref, port);
      return ringConnector({ page: grant.page, eventChannel, port })(handlers);
    };
    return {
      connector,
      root: `${SHARED}/xenwire-client-test`,
      privileged: false,
      async stop() {
        await host.close();
      },
    };
  },
};

describeClientSuite(overRings);
