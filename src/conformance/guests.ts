import { existsSync } from 'node:fs';
import { truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isNativeAvailable, mapFile, unmap } from '../device/index.ts';
import { SocketEventChannel } from '../evtchn/index.ts';
import { ringConnector, socketConnector, type TransportConnector } from '../xenstore/index.ts';

/** What dom0's INTRODUCE names for a guest: its ring's frame and its event-channel port. */
export interface IntroduceArguments {
  /** Guest frame number of the domain's xenstore ring page. */
  readonly gfn: number;
  /** The event-channel port, in the guest, that the server binds to signal the ring. */
  readonly port: number;
}

/**
 * How the suite gets connections as unprivileged guest domains. The suite itself introduces and
 * releases the domains (from dom0, so every server sees the same requests); a provider only
 * supplies what sits outside the protocol: the domain's ring or socket, its event channel, and
 * (optionally) the hypervisor's word that a domain died.
 */
export interface GuestDomains {
  /** One line for reports: how guests are reached. */
  readonly description: string;
  /** Readies `domid` for INTRODUCE (a ring page, an event channel) and gives its arguments. */
  prepare(domid: number): Promise<IntroduceArguments>;
  /** Connections speaking for `domid`, once it is introduced. */
  connector(domid: number): TransportConnector;
  /**
   * Makes `domid` die as the hypervisor reports it, so the server releases it by itself.
   * Absent when the target has no hypervisor to ask; checks of domain death are then skipped.
   */
  readonly destroy?: (domid: number) => Promise<void>;
  /** Frees what {@link prepare} set up, once the domain is released or dead. */
  dispose(domid: number): Promise<void>;
}

/** The first event-channel port handed to guests; low ports are left to the host. */
const FIRST_GUEST_PORT = 100;
const LAST_GUEST_PORT = 4094;

/** Hands out distinct ports, wrapping round once the range is used up. */
class PortPool {
  #next = FIRST_GUEST_PORT;

  take(): number {
    const port = this.#next;
    this.#next = port >= LAST_GUEST_PORT ? FIRST_GUEST_PORT : port + 1;
    return port;
  }
}

/**
 * Guests behind one unix socket per domain, as `xenwire serve --guest-socket-dir DIR` (or
 * `XenstoreServer.listen({ path, domid })`) offers them: every connection to the socket at
 * `template` with `{domid}` replaced is a connection of that domain. Such servers have no
 * hypervisor, so the INTRODUCE arguments are made up (the domid as frame, a fresh port).
 */
export function socketTemplateGuests(template: string): GuestDomains {
  if (!template.includes('{domid}')) {
    throw Object.assign(new Error(`guest socket template ${template} lacks {domid}`), {
      code: 'EINVAL',
    });
  }
  const ports = new PortPool();
  return {
    description: `guest sockets ${template}`,
    async prepare(domid) {
      return { gfn: domid, port: ports.take() };
    },
    connector: (domid) => socketConnector(template.replaceAll('{domid}', String(domid))),
    async dispose() {},
  };
}

/** VIRQ_DOM_EXC's port under the harness's shim. */
const DOM_EXC_PORT = 4095;
const PAGE_SIZE = 4096;

/** A ring guest's page and event channel, while it exists. */
interface RingGuest {
  readonly eventChannel: SocketEventChannel;
  readonly port: number;
  page: ArrayBuffer | undefined;
}

/**
 * Guests on shared-memory rings of a daemon running under xenwire's LD_PRELOAD shim
 * (`harness/README.md`), in its shim directory `dir`: domain N exists while `dir/domN.page`
 * exists, that file is its ring page, and event channels are datagrams to `dir/evtchn.sock`
 * (guest N receives on `dir/domN.evtchn`). This reaches the unmodified C xenstored and
 * oxenstored, which have no other way to serve a guest. Needs the native addon (datagram
 * sockets, `mmap`). Domain death is the shim's: the page file goes and VIRQ_DOM_EXC is raised.
 */
export function ringGuests(dir: string): GuestDomains {
  if (!existsSync(join(dir, 'evtchn.sock'))) {
    throw Object.assign(new Error(`${dir} is no shim directory: it has no evtchn.sock`), {
      code: 'EINVAL',
    });
  }
  if (!isNativeAvailable()) {
    throw Object.assign(
      new Error('guest rings need the native addon (node scripts/build-native.mjs)'),
      {
        code: 'ENOSYS',
      },
    );
  }
  const ports = new PortPool();
  const guests = new Map<number, RingGuest>();
  const pagePath = (domid: number) => join(dir, `dom${domid}.page`);
  const guest = (domid: number): RingGuest => {
    const found = guests.get(domid);
    if (!found)
      throw Object.assign(new Error(`domain ${domid} was not prepared`), { code: 'ENOENT' });
    return found;
  };
  return {
    description: `guest rings in the shim directory ${dir}`,
    async prepare(domid) {
      if (guests.has(domid)) await this.dispose(domid);
      // A fresh zeroed page: the daemon starts a new domain's ring from the indices it finds.
      await writeFile(pagePath(domid), '');
      await truncate(pagePath(domid), PAGE_SIZE);
      const eventChannel = SocketEventChannel.open({
        localPath: join(dir, `dom${domid}.evtchn`),
        peerPath: join(dir, 'evtchn.sock'),
      });
      const port = eventChannel.bindInterdomain(0, ports.take());
      guests.set(domid, { eventChannel, port, page: undefined });
      return { gfn: domid, port };
    },
    connector(domid) {
      const { eventChannel, port } = guest(domid);
      return (handlers) => {
        const ring = guest(domid);
        ring.page ??= mapFile(pagePath(domid), { length: PAGE_SIZE });
        const page = new Uint8Array(ring.page);
        return ringConnector({ page, eventChannel, port })(handlers);
      };
    },
    async destroy(domid) {
      await unlink(pagePath(domid));
      const hypervisor = SocketEventChannel.open({
        localPath: join(dir, 'hypervisor.evtchn'),
        peerPath: join(dir, 'evtchn.sock'),
      });
      try {
        hypervisor.notify(hypervisor.bindInterdomain(0, DOM_EXC_PORT));
      } finally {
        hypervisor.close();
      }
    },
    async dispose(domid) {
      const ring = guests.get(domid);
      if (!ring) return;
      guests.delete(domid);
      ring.eventChannel.close();
      if (ring.page) unmap(ring.page);
      if (existsSync(pagePath(domid))) await unlink(pagePath(domid));
    },
  };
}
