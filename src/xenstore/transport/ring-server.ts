import type { EventChannel } from '../../evtchn/event-channel.ts';
import { Virq } from '../../evtchn/virq.ts';
import { XenstoreFeature } from '../../ring/index.ts';
import { RingDomain } from './ring-domain.ts';
import type { ServedDomain, XenstoreService } from './transport.ts';

/**
 * Maps the xenstore page a domain's INTRODUCE names: a grant or foreign map on Xen, a
 * simulated grant in the simulated host, a page file under the test harness.
 * @category Transports
 */
export interface PageMapper {
  /** The domain's 4096-byte page, named by INTRODUCE's `gfn`. */
  map(domid: number, gfn: bigint): Uint8Array;
  /** Gives back a page from {@link map} once the domain is released. */
  unmap(domid: number, gfn: bigint, page: Uint8Array): void;
}

/**
 * Options of {@link XenstoreRingServer}.
 * @category Transports
 */
export interface RingServerOptions {
  /** How to reach each introduced domain's page. */
  readonly mapper: PageMapper;
  /**
   * xenstored's event-channel handle: each domain's port is bound interdomain through it, and
   * VIRQ_DOM_EXC too when {@link domainExists} is given.
   */
  readonly eventChannel: EventChannel;
  /** `server_features` written into each page; default RECONNECTION | ERROR. */
  readonly features?: number;
  /**
   * Whether a domain still exists (the hypervisor's domain list). With it, VIRQ_DOM_EXC is bound
   * and every served domain found gone is released, firing `@releaseDomain`.
   */
  readonly domainExists?: (domid: number) => boolean;
  /** A domain could not be served (its page or port could not be had); default: ignored. */
  readonly onError?: (domid: number, error: Error) => void;
}

interface ServedRing {
  readonly domain: ServedDomain;
  readonly ring: RingDomain;
  /** The local port of the domain's channel; INTRODUCE again re-binds it. */
  readonly channel: { port: number };
  readonly page: Uint8Array;
}

/**
 * The server end of ring pages: serves the daemon (a {@link XenstoreService} such as
 * `XenstoreServer`) to domains over their xenstore pages, as xenstored does: each
 * domain INTRODUCE names is served on its page with its port, under its own identity
 * (permissions, quotas); RELEASE, and the domain's destruction when VIRQ_DOM_EXC reports it,
 * stop serving it. Domains already introduced when it starts are served at once.
 *
 * ```ts
 * const rings = new XenstoreRingServer(server, { mapper, eventChannel, domainExists });
 * ```
 * @category Transports
 */
export class XenstoreRingServer {
  readonly #server: XenstoreService;
  readonly #options: RingServerOptions;
  readonly #byDomain = new Map<number, ServedRing>();
  readonly #byPort = new Map<number, ServedRing>();
  readonly #unsubscribe: (() => void)[];
  readonly #virqPort: number | undefined;
  #closed = false;

  constructor(server: XenstoreService, options: RingServerOptions) {
    this.#server = server;
    this.#options = options;
    const { eventChannel } = options;
    this.#virqPort = options.domainExists ? eventChannel.bindVirq(Virq.DOM_EXC) : undefined;
    eventChannel.on('pending', this.#onPending);
    this.#unsubscribe = [
      server.domains.onIntroduce((domain) => this.#attach(domain)),
      server.domains.onRebind((domain) => this.#rebind(domain)),
      server.domains.onRelease((domain) => this.#detach(domain.domid)),
    ];
    for (const domain of server.domains.all()) {
      if (domain.domid !== 0 && !domain.implicit) this.#attach(domain);
    }
  }

  /** Domains whose rings are served, ascending. */
  get domids(): number[] {
    return [...this.#byDomain.keys()].sort((a, b) => a - b);
  }

  /** Why `domid`'s ring stopped being served, if its guest broke the protocol. */
  failure(domid: number): Error | undefined {
    return this.#byDomain.get(domid)?.ring.failure;
  }

  /** Stops serving every ring and unbinds the ports; the store and the domains stay. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#options.eventChannel.off('pending', this.#onPending);
    for (const domid of [...this.#byDomain.keys()]) this.#detach(domid);
    if (this.#virqPort !== undefined) this.#unbind(this.#virqPort);
  }

  readonly #onPending = (port: number): void => {
    if (port === this.#virqPort) {
      this.#options.eventChannel.unmask(port);
      this.#reapDeadDomains();
      return;
    }
    const served = this.#byPort.get(port);
    if (!served) return;
    this.#options.eventChannel.unmask(port);
    served.ring.service();
  };

  #attach(domain: ServedDomain): void {
    const { mapper, eventChannel } = this.#options;
    const domid = domain.domid;
    if (this.#closed || this.#byDomain.has(domid)) return;
    let page: Uint8Array | undefined;
    let port: number | undefined;
    try {
      page = mapper.map(domid, domain.gfn);
      port = eventChannel.bindInterdomain(domid, domain.port);
      const server = this.#server;
      const channel = { port };
      const ring = new RingDomain(
        domid,
        page,
        this.#options.features ?? XenstoreFeature.RECONNECTION | XenstoreFeature.ERROR,
        {
          connect: (handlers) => server.connect({ domid, ...handlers }),
          notify: () => eventChannel.notify(channel.port),
        },
      );
      const served = { domain, ring, channel, page };
      this.#byDomain.set(domid, served);
      this.#byPort.set(port, served);
      // INTRODUCE is still being answered: look at the ring once it is done.
      queueMicrotask(() => ring.service());
    } catch (error) {
      if (port !== undefined) this.#unbind(port);
      if (page) mapper.unmap(domid, domain.gfn, page);
      this.#options.onError?.(domid, error as Error);
    }
  }

  /** INTRODUCE of a served domain: its ring stays, its event channel is bound afresh. */
  #rebind(domain: ServedDomain): void {
    const served = this.#byDomain.get(domain.domid);
    if (!served) return;
    this.#byPort.delete(served.channel.port);
    this.#unbind(served.channel.port);
    try {
      served.channel.port = this.#options.eventChannel.bindInterdomain(domain.domid, domain.port);
    } catch (error) {
      // C serves the ring without a channel then (port 0); here it stops being served.
      this.#byDomain.delete(domain.domid);
      this.#stopServing(served);
      this.#options.onError?.(domain.domid, error as Error);
      return;
    }
    this.#byPort.set(served.channel.port, served);
    queueMicrotask(() => served.ring.service());
  }

  #detach(domid: number): void {
    const served = this.#byDomain.get(domid);
    if (!served) return;
    this.#byDomain.delete(domid);
    this.#byPort.delete(served.channel.port);
    this.#unbind(served.channel.port);
    this.#stopServing(served);
  }

  /** Stops the ring and gives its page back. */
  #stopServing(served: ServedRing): void {
    served.ring.stop();
    try {
      this.#options.mapper.unmap(served.domain.domid, served.domain.gfn, served.page);
    } catch {
      // A destroyed domain's grants are already revoked: nothing left to give back.
    }
  }

  #unbind(port: number): void {
    try {
      this.#options.eventChannel.unbind(port);
    } catch {
      // The handle was closed first, or the hypervisor closed the port with its domain.
    }
  }

  /** VIRQ_DOM_EXC: release every served domain the hypervisor no longer has. */
  #reapDeadDomains(): void {
    const exists = this.#options.domainExists;
    if (!exists) return;
    for (const domid of [...this.#byDomain.keys()]) {
      if (!exists(domid) && this.#server.domains.isIntroduced(domid)) {
        this.#server.releaseDomain(domid);
      }
    }
  }
}
