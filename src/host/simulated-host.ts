import { MessageChannel, Worker, type WorkerOptions } from 'node:worker_threads';
import { GNTTAB_RESERVED_CONSOLE } from '../evtchn/sim/grant-table.ts';
import { SimulatedHypervisor } from '../evtchn/sim/hypervisor.ts';
import type { SharedStateLimits, WaitOptions } from '../evtchn/sim/shared-state.ts';
import type { SimulatedEventChannel } from '../evtchn/sim/simulated-event-channel.ts';
import { XenstoreClient } from '../xenstore/client.ts';
import { type ServerOptions, XenstoreServer } from '../xenstore/server/server.ts';
import { inProcessConnector } from '../xenstore/transport/in-process.ts';
import { XenstoreRingServer } from '../xenstore/transport/ring-server.ts';
import { grantPageMapper } from './grant-page-mapper.ts';
import {
  type BootedGuest,
  bootGuest,
  type GuestClientOptions,
  type GuestPorts,
  type SimulatedGuest,
} from './guest.ts';
import type { GuestHandoff, ToolstackMessage } from './guest-worker.ts';
import { introduceGuest } from './toolstack.ts';

/** Options of {@link createSimulatedHost}. */
export interface SimulatedHostOptions {
  /** Guests booted in this thread at once, domains 1 … N (default 0). */
  readonly guests?: number;
  /** Options of the in-memory xenstored (quotas, version, …). */
  readonly server?: ServerOptions;
  /**
   * Sizes of the simulated hypervisor and how it sleeps. By default it has room for
   * 1,024 domains (or `guests + 1`, if more) with 4,096 ports each, Xen's 2-level
   * limit: dom0's xenstored binds one port per guest. Memory is committed only as domains use
   * it, so the room costs address space, not memory.
   */
  readonly hypervisor?: Partial<SharedStateLimits> & WaitOptions;
  /** Options of every guest's client made in this thread. */
  readonly guestClient?: GuestClientOptions;
}

/** Domains a simulated host has room for by default, dom0 included. */
export const HOST_DOMAINS = 1024;

/** Ports per domain by default: the 2-level event-channel ABI's limit on 64-bit Xen. */
const HOST_PORTS_PER_DOMAIN = 4096;

/** A guest running in its own worker thread. */
export interface GuestWorker {
  /** The guest domain the worker speaks for. */
  readonly domid: number;
  /** The thread; to end the guest, use the host's `destroyDomain`, which also releases it. */
  readonly worker: Worker;
}

/**
 * Creates a whole simulated Xen host: a {@link SimulatedHypervisor} with dom0, the in-memory
 * xenstored serving dom0 in-process and every guest over its ring page and event channel, and
 * `guests` guest domains booted the way a toolstack and a guest kernel do it.
 */
export async function createSimulatedHost(
  options: SimulatedHostOptions = {},
): Promise<SimulatedHost> {
  const host = new SimulatedHost(options);
  try {
    await host.start();
    for (let i = 0; i < (options.guests ?? 0); i++) await host.addGuest();
  } catch (error) {
    await host.close();
    throw error;
  }
  return host;
}

/**
 * A simulated Xen host for protocol testing; see {@link createSimulatedHost}. Guests and
 * xenstored share nothing but what real ones share: the page granted to dom0 and the event
 * channel, both in the hypervisor's `SharedArrayBuffer`, so a guest can equally run in a worker
 * thread ({@link spawnGuestWorker}).
 */
export class SimulatedHost {
  /**
   * The hypervisor every domain of the host lives in: create more domains, bind ports or grant
   * pages through it, or hand its buffer to a worker.
   */
  readonly hypervisor: SimulatedHypervisor;
  /** The in-memory xenstored. */
  readonly server: XenstoreServer;
  /** Serves the store on the guests' rings. */
  readonly rings: XenstoreRingServer;
  /** xenstored's own event-channel handle (dom0). */
  readonly #xenstoredEvents: SimulatedEventChannel;
  readonly #guests = new Map<number, BootedGuest>();
  readonly #workers = new Map<number, Worker>();
  readonly #options: SimulatedHostOptions;
  #dom0: XenstoreClient | undefined;
  #closed = false;

  /** Use {@link createSimulatedHost}. @internal */
  constructor(options: SimulatedHostOptions) {
    this.#options = options;
    const hv = SimulatedHypervisor.create({
      maxDomains: Math.max(HOST_DOMAINS, (options.guests ?? 0) + 1),
      portsPerDomain: HOST_PORTS_PER_DOMAIN,
      ...options.hypervisor,
    });
    this.hypervisor = hv;
    this.server = new XenstoreServer(options.server);
    this.#xenstoredEvents = hv.openEventChannel(0);
    this.rings = new XenstoreRingServer(this.server, {
      mapper: grantPageMapper(hv),
      eventChannel: this.#xenstoredEvents,
      domainExists: (domid) => hv.domainExists(domid),
    });
  }

  /** @internal */
  async start(): Promise<void> {
    this.#dom0 = await XenstoreClient.connect({ transport: inProcessConnector(this.server, 0) });
  }

  /** The toolstack's client: dom0, privileged, in-process. */
  get dom0Client(): XenstoreClient {
    if (!this.#dom0) throw new Error('SimulatedHost: not started');
    return this.#dom0;
  }

  /** A guest booted in this thread. @throws Error for a domain that is no such guest */
  guest(domid: number): SimulatedGuest {
    const guest = this.#guests.get(domid);
    if (!guest) throw new Error(`SimulatedHost: no guest ${domid} in this thread`);
    return guest;
  }

  /** Ids of the live guest domains, in this thread or in workers. */
  get guestDomids(): number[] {
    return this.hypervisor.domains().filter((domid) => domid !== 0);
  }

  /**
   * Creates a domain and boots it as a guest in this thread: the toolstack creates its home
   * `/local/domain/<domid>` (owned by the guest) and INTRODUCEs it; its client then talks over
   * the ring. `domid` defaults to the lowest free id.
   */
  async addGuest(domid?: number, options = this.#options.guestClient): Promise<SimulatedGuest> {
    const { id, xenstore, console } = await this.#createDomain(domid);
    const guest = await bootGuest(
      this.hypervisor,
      id,
      { xenstore: xenstore.page, console: console.page },
      (ports) => this.#introduce(id, xenstore.ref, ports),
      options,
    );
    this.#guests.set(id, guest);
    return guest;
  }

  /**
   * Creates a domain and runs its guest in a new worker thread started from `moduleUrl`. That
   * module calls `connectGuest()` (from `xenwire/host`) to boot and get its client; it receives
   * `options.workerData` as `workerData` too, plus the handoff under `xenwireGuest`. Resolves
   * once the guest is introduced and served.
   */
  async spawnGuestWorker(
    moduleUrl: string | URL,
    options: WorkerOptions & { readonly domid?: number } = {},
  ): Promise<GuestWorker> {
    const { domid, ...workerOptions } = options;
    const { id, xenstore, console } = await this.#createDomain(domid);
    const { port1: toolstack, port2: guestSide } = new MessageChannel();
    const handoff: GuestHandoff = {
      hypervisor: this.hypervisor.buffer,
      domid: id,
      pageOffset: xenstore.page.byteOffset,
      consolePageOffset: console.page.byteOffset,
      toolstack: guestSide,
    };
    const userData = (workerOptions.workerData ?? {}) as Record<string, unknown>;
    const worker = new Worker(moduleUrl, {
      ...workerOptions,
      workerData: { ...userData, xenwireGuest: handoff },
      transferList: [...(workerOptions.transferList ?? []), guestSide],
    });
    this.#workers.set(id, worker);
    worker.once('exit', () => this.#workers.delete(id));
    try {
      await new Promise<void>((resolve, reject) => {
        const settle = (error?: Error): void => {
          worker.off('error', settle);
          worker.off('exit', exited);
          toolstack.close();
          if (error) reject(error);
          else resolve();
        };
        const exited = (code: number): void =>
          settle(new Error(`guest worker of domain ${id} exited (${code}) before connecting`));
        worker.once('error', settle);
        worker.once('exit', exited);
        toolstack.once('message', (message: ToolstackMessage) => {
          if (!('introduce' in message)) return;
          this.#introduce(id, xenstore.ref, message.introduce).then(
            () => {
              toolstack.postMessage({ introduced: true } satisfies ToolstackMessage);
              settle();
            },
            (error: Error) => {
              toolstack.postMessage({ failed: error.message } satisfies ToolstackMessage);
              settle(error);
            },
          );
        });
      });
    } catch (error) {
      // A guest that never came up is a domain nobody runs: take it down again.
      await this.destroyDomain(id);
      throw error;
    }
    return { domid: id, worker };
  }

  /**
   * Destroys a guest domain as the hypervisor does: its worker (if any) stops, its ports close
   * and its grants go, dom0 gets VIRQ_DOM_EXC, and xenstored releases it (`@releaseDomain`,
   * its nodes removed). Resolves once xenstored has.
   */
  async destroyDomain(domid: number): Promise<void> {
    const released = new Promise<void>((resolve) => {
      const stop = this.server.domains.onRelease((domain) => {
        if (domain.domid !== domid) return;
        stop();
        resolve();
      });
    });
    const wasIntroduced = this.server.domains.isIntroduced(domid);
    const worker = this.#workers.get(domid);
    if (worker) await this.hypervisor.stopWorker(worker);
    const guest = this.#guests.get(domid);
    this.#guests.delete(domid);
    guest?.closeConsole();
    this.hypervisor.destroyDomain(domid);
    await guest?.client.close();
    guest?.eventChannel.close();
    if (wasIntroduced) await released;
  }

  /** Stops every guest and worker and the store's rings; closing again does nothing. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const worker of this.#workers.values()) await this.hypervisor.stopWorker(worker);
    for (const guest of this.#guests.values()) {
      guest.closeConsole();
      await guest.client.close();
      guest.eventChannel.close();
    }
    this.#guests.clear();
    await this.#dom0?.close();
    this.rings.close();
    this.#xenstoredEvents.close();
    this.server.close();
  }

  /**
   * The toolstack's part before the guest runs: the domain, its xenstore page granted to dom0,
   * and its console page granted to dom0 (the console backend's domain) under the reserved
   * console entry, as `xc_dom_gnttab_seed` does.
   */
  async #createDomain(domid?: number) {
    const id = this.hypervisor.createDomain(domid);
    const grants = this.hypervisor.grants;
    return {
      id,
      xenstore: grants.grantAccess(id, 0),
      console: grants.seed(id, GNTTAB_RESERVED_CONSOLE, 0),
    };
  }

  /** The toolstack's part once the guest offered its ports (see {@link introduceGuest}). */
  #introduce(domid: number, ref: number, ports: GuestPorts): Promise<void> {
    return introduceGuest(this.dom0Client, domid, ref, ports);
  }
}
