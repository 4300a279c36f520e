import { ConsoleStream } from '../console/console-stream.ts';
import type { SimulatedHypervisor } from '../evtchn/sim/hypervisor.ts';
import type { SimulatedEventChannel } from '../evtchn/sim/simulated-event-channel.ts';
import { ConsoleRing } from '../ring/console.ts';
import { XenstoreClient, type XenstoreClientOptions } from '../xenstore/client.ts';
import { ringConnector } from '../xenstore/transport/ring.ts';

/** A guest domain of a simulated host, as its kernel's xenbus sees xenstore. */
export interface SimulatedGuest {
  /** The guest's domain id; its home is `/local/domain/<domid>`. */
  readonly domid: number;
  /** A client of the host's xenstored over this guest's ring page and event channel. */
  readonly client: XenstoreClient;
  /** The guest's event-channel handle (its xenstore port is bound through it). */
  readonly eventChannel: SimulatedEventChannel;
  /** The guest's end of the event channel to xenstored. */
  readonly port: number;
  /** The guest's xenstore page (granted to dom0). */
  readonly page: Uint8Array;
  /**
   * The guest's side of its PV console (`hvc0`): write what the guest prints, read what a
   * console backend types. Output waits in the ring until a backend attaches. It ends when
   * `client` is closed (the guest shutting down).
   */
  readonly console: ConsoleStream;
  /** The guest's end of the console's event channel, offered to dom0. */
  readonly consolePort: number;
}

/** The pages the toolstack set up for a guest before it runs. */
export interface GuestPages {
  /** Its xenstore page. */
  readonly xenstore: Uint8Array;
  /** Its console page (granted to dom0 under `GNTTAB_RESERVED_CONSOLE`). */
  readonly console: Uint8Array;
}

/** The ports a guest offers dom0 for the toolstack to announce. */
export interface GuestPorts {
  readonly xenstore: number;
  readonly console: number;
}

/** Client options a guest may choose; the transport is always its ring. */
export type GuestClientOptions = Omit<XenstoreClientOptions, 'transport' | 'socketPath'>;

/**
 * The guest kernel's half of bringing xenstore and its console up: opens the domain's
 * event-channel handle and offers dom0 a port for each (`EVTCHNOP_alloc_unbound`; on Xen the
 * toolstack allocates them for the guest, to the same effect). `introduce` is the toolstack's
 * half, told the ports; once it resolves, xenstored serves the page and the client connects
 * over it.
 * @internal
 */
export async function bootGuest(
  hv: SimulatedHypervisor,
  domid: number,
  pages: GuestPages,
  introduce: (ports: GuestPorts) => Promise<void>,
  options: GuestClientOptions = {},
): Promise<BootedGuest> {
  const eventChannel = hv.openEventChannel(domid);
  try {
    const port = eventChannel.bindUnboundPort(0);
    const consolePort = eventChannel.bindUnboundPort(0);
    await introduce({ xenstore: port, console: consolePort });
    const page = pages.xenstore;
    const client = await XenstoreClient.connect({
      ...options,
      transport: ringConnector({ page, eventChannel, port }),
    });
    const guest = new BootedGuest(
      domid,
      client,
      eventChannel,
      port,
      page,
      pages.console,
      consolePort,
    );
    // Closing the client is the guest shutting down: its console goes too, so that nothing of it
    // keeps a guest worker's thread alive.
    client.on('close', () => guest.closeConsole());
    return guest;
  } catch (error) {
    eventChannel.close();
    throw error;
  }
}

/**
 * A booted guest. Its console stream is made when first asked for: until then the console is
 * its page and its port alone, and a host of a thousand quiet guests holds no thousand streams.
 * Output a backend typed meanwhile waits in the page.
 * @internal
 */
export class BootedGuest implements SimulatedGuest {
  #console: ConsoleStream | undefined;
  #consoleClosed = false;

  constructor(
    readonly domid: number,
    readonly client: XenstoreClient,
    readonly eventChannel: SimulatedEventChannel,
    readonly port: number,
    readonly page: Uint8Array,
    readonly consolePage: Uint8Array,
    readonly consolePort: number,
  ) {}

  get console(): ConsoleStream {
    if (this.#console) return this.#console;
    const events = this.eventChannel;
    const port = this.consolePort;
    const ring = new ConsoleRing('guest', this.consolePage.buffer, {
      byteOffset: this.consolePage.byteOffset,
      notify: () => events.notify(port),
    });
    // A backend's notification before now was reported to nobody and left the port masked.
    if (!this.#consoleClosed) events.unmask(port);
    this.#console = new ConsoleStream(ring, events, port);
    if (this.#consoleClosed) this.#console.destroy();
    return this.#console;
  }

  /** The guest is going down: its console stream, if it has one, goes with it. */
  closeConsole(): void {
    this.#consoleClosed = true;
    this.#console?.destroy();
  }
}
