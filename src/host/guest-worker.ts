import { type MessagePort, workerData } from 'node:worker_threads';
import { SimulatedHypervisor } from '../evtchn/sim/hypervisor.ts';
import { XEN_PAGE_SIZE } from '../ring/memory.ts';
import {
  bootGuest,
  type GuestClientOptions,
  type GuestPorts,
  type SimulatedGuest,
} from './guest.ts';

/**
 * What a host hands a guest worker (under `workerData.xenwireGuest`): the host's shared memory,
 * where the guest's page is in it, and a port to ask the toolstack for INTRODUCE.
 */
export interface GuestHandoff {
  /** The simulated hypervisor's shared state, attached to in the worker. */
  readonly hypervisor: SharedArrayBuffer;
  /** The domain the worker boots as. */
  readonly domid: number;
  /** Byte offset of the guest's xenstore page in `hypervisor`. */
  readonly pageOffset: number;
  /** Byte offset of the guest's console page in `hypervisor`. */
  readonly consolePageOffset: number;
  /** The host's end answers the worker's request to be introduced to xenstored. */
  readonly toolstack: MessagePort;
}

/** Worker → host: introduce me with this port. Host → worker: done, or why not. */
export type ToolstackMessage =
  | { readonly introduce: GuestPorts }
  | { readonly introduced: true }
  | { readonly failed: string };

/**
 * Inside a worker started by `SimulatedHost.spawnGuestWorker`: boots this thread as the guest
 * domain and returns its xenstore client, talking to the host's xenstored only through the ring
 * page and the event channel in shared memory.
 * @throws Error when the thread was not started as a guest worker, or INTRODUCE failed
 */
export async function connectGuest(options: GuestClientOptions = {}): Promise<SimulatedGuest> {
  const handoff = (workerData as { xenwireGuest?: GuestHandoff } | null)?.xenwireGuest;
  if (!handoff) throw new Error('connectGuest: this thread was not started by spawnGuestWorker');
  const hv = SimulatedHypervisor.fromShared(handoff.hypervisor);
  const page = (offset: number) => new Uint8Array(handoff.hypervisor, offset, XEN_PAGE_SIZE);
  const { toolstack } = handoff;
  const guest = await bootGuest(
    hv,
    handoff.domid,
    { xenstore: page(handoff.pageOffset), console: page(handoff.consolePageOffset) },
    (ports) =>
      new Promise<void>((resolve, reject) => {
        toolstack.once('message', (reply: ToolstackMessage) => {
          if ('introduced' in reply) resolve();
          else reject(new Error(`INTRODUCE failed: ${'failed' in reply ? reply.failed : '?'}`));
        });
        toolstack.postMessage({ introduce: ports } satisfies ToolstackMessage);
      }),
    options,
  );
  // The port has served its purpose; left open it would keep the worker alive.
  toolstack.close();
  return guest;
}
