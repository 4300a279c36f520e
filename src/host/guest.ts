import type { SimulatedHypervisor } from '../evtchn/sim/hypervisor.ts';
import type { SimulatedEventChannel } from '../evtchn/sim/simulated-event-channel.ts';
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
}

/** Client options a guest may choose; the transport is always its ring. */
export type GuestClientOptions = Omit<XenstoreClientOptions, 'transport' | 'socketPath'>;

/**
 * The guest kernel's half of bringing xenstore up: opens the domain's event-channel handle and
 * offers dom0 a port (`EVTCHNOP_alloc_unbound`). `introduce` is the toolstack's half, told the
 * port; once it resolves, xenstored serves the page and the client connects over it.
 */
export async function bootGuest(
  hv: SimulatedHypervisor,
  domid: number,
  page: Uint8Array,
  introduce: (port: number) => Promise<void>,
  options: GuestClientOptions = {},
): Promise<SimulatedGuest> {
  const eventChannel = hv.openEventChannel(domid);
  try {
    const port = eventChannel.bindUnboundPort(0);
    await introduce(port);
    const client = await XenstoreClient.connect({
      ...options,
      transport: ringConnector({ page, eventChannel, port }),
    });
    return { domid, client, eventChannel, port, page };
  } catch (error) {
    eventChannel.close();
    throw error;
  }
}
