import { existsSync } from 'node:fs';
import { mkdtemp, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mapFile, unmap } from '../../../src/device/index.ts';
import { SocketEventChannel, Virq } from '../../../src/evtchn/index.ts';
import { XenstoreClient } from '../../../src/xenstore/client.ts';
import {
  pageFileMapper,
  XenstoreRingServer,
  XenstoreServer,
} from '../../../src/xenstore/server.ts';
import { inProcessConnector } from '../../../src/xenstore/transport/in-process.ts';
import {
  startRealXenstored,
  VIRQ_DOM_EXC_PORT,
  type XenInstall,
} from '../../support/real-xenstored.ts';

/**
 * A xenstored serving one introduced guest domain over a page file and datagram event channels,
 * the harness's layout (harness/README.md): the real C daemon under the shim, or the in-memory
 * server behind {@link XenstoreRingServer} with the same files and sockets. Either way the guest
 * end is the same: the mapped page, and an event channel whose port the daemon was introduced
 * with.
 */
export interface RingTarget {
  readonly name: string;
  /** Dom0's toolstack client (the daemon's unix socket, or in-process). */
  readonly admin: XenstoreClient;
  readonly domid: number;
  /** The guest's xenstore page, mapped shared with the daemon. */
  readonly page: Uint8Array;
  readonly eventChannel: SocketEventChannel;
  readonly port: number;
  /**
   * Destroys the guest as the harness does: its page file goes and VIRQ_DOM_EXC (port 4095) is
   * sent to the daemon, which finds the domain gone and releases it.
   */
  destroy(): Promise<void>;
  stop(): Promise<void>;
}

/** Introduces the guest as a toolstack does: INTRODUCE, then its home owned by it. */
async function introduce(admin: XenstoreClient, domid: number, port: number): Promise<void> {
  await admin.introduceDomain(domid, domid, port);
  const home = `/local/domain/${domid}`;
  await admin.mkdir(home);
  await admin.setPermissions(home, [{ access: 'n', domid }]);
}

/** Maps the page and opens the guest's event channel; `port` is then offered to dom0. */
function guestEnd(dir: string, domid: number, peer: string) {
  const eventChannel = SocketEventChannel.open({
    localPath: join(dir, `dom${domid}.evtchn`),
    peerPath: peer,
    portRange: [7, 4094],
  });
  return { eventChannel, port: eventChannel.bindUnboundPort(0) };
}

/** The real C xenstored 4.17 with guest `domid` introduced. */
export async function realRingTarget(install: XenInstall, domid: number): Promise<RingTarget> {
  const daemon = await startRealXenstored(install);
  const { eventChannel, port } = guestEnd(daemon.rundir, domid, join(daemon.rundir, 'evtchn.sock'));
  const guest = await daemon.createGuest(domid, port);
  const admin = await XenstoreClient.connect({ socketPath: daemon.socketPath });
  await introduce(admin, domid, port);
  const buffer = mapFile(guest.pagePath, { length: 4096 });
  return {
    name: 'C xenstored',
    admin,
    domid,
    page: new Uint8Array(buffer),
    eventChannel,
    port,
    destroy: () => daemon.destroyGuest(domid),
    async stop() {
      await admin.close();
      eventChannel.close();
      unmap(buffer);
      await daemon.stop();
    },
  };
}

/**
 * The in-memory xenstored in 4.17 mode serving the same layout. Its pages advertise no
 * features, as C 4.17's do, so the two pages can be compared byte for byte.
 */
export async function mockRingTarget(domid: number): Promise<RingTarget> {
  const dir = await mkdtemp(join(tmpdir(), 'xenwire-ring-'));
  const pagePath = (id: number) => join(dir, `dom${id}.page`);
  await writeFile(pagePath(domid), '');
  await truncate(pagePath(domid), 4096);
  const server = new XenstoreServer({ version: '4.17' });
  const xenstored = SocketEventChannel.open({
    localPath: join(dir, 'evtchn.sock'),
    peerPath: join(dir, `dom${domid}.evtchn`),
    virqPorts: { [Virq.DOM_EXC]: VIRQ_DOM_EXC_PORT },
  });
  const rings = new XenstoreRingServer(server, {
    mapper: pageFileMapper((id) => pagePath(id)),
    eventChannel: xenstored,
    features: 0,
    // The harness's hypervisor: a domain exists while its page file does.
    domainExists: (id) => existsSync(pagePath(id)),
  });
  const { eventChannel, port } = guestEnd(dir, domid, join(dir, 'evtchn.sock'));
  const admin = await XenstoreClient.connect({ transport: inProcessConnector(server, 0) });
  await introduce(admin, domid, port);
  const buffer = mapFile(pagePath(domid), { length: 4096 });
  return {
    name: 'in-memory xenstored',
    admin,
    domid,
    page: new Uint8Array(buffer),
    eventChannel,
    port,
    async destroy() {
      await unlink(pagePath(domid));
      // The hypervisor's side of VIRQ_DOM_EXC, in the harness's datagram convention.
      const hypervisor = SocketEventChannel.open({
        localPath: join(dir, 'hypervisor.evtchn'),
        peerPath: join(dir, 'evtchn.sock'),
      });
      hypervisor.notify(hypervisor.bindInterdomain(0, VIRQ_DOM_EXC_PORT));
      hypervisor.close();
    },
    async stop() {
      await admin.close();
      eventChannel.close();
      unmap(buffer);
      rings.close();
      xenstored.close();
      server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
