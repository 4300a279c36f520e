import { EventEmitter } from 'node:events';
import { EvtchnError } from './errors.ts';
import { PortQueue } from './port-queue.ts';

/** Events emitted by every {@link EventChannel}. */
export interface EventChannelEvents {
  /** A bound port fired. It stays masked until {@link EventChannel.unmask} is called for it. */
  pending: [port: number];
  /** Delivery failed for good (e.g. the device or socket broke); the handle stops delivering. */
  error: [error: Error];
}

/**
 * A handle on event channels, shaped after libxenevtchn (`xenevtchn_handle`). Every backend
 * (simulated hypervisor, `/dev/xen/evtchn`, unix datagram sockets) implements the same contract:
 *
 * - ports are bound to this handle and only this handle can notify, unmask or unbind them;
 * - a port that fires is reported once and left masked, like `/dev/xen/evtchn` whose `read()`
 *   returns masked ports; notifications arriving while it is masked stay pending and are
 *   reported again after {@link unmask};
 * - pending ports can be consumed as the `pending` event or with `for await (const port of h)`;
 *   both see every port;
 * - any call after {@link close} fails with `EBADF`.
 */
export abstract class EventChannel
  extends EventEmitter<EventChannelEvents>
  implements AsyncDisposable, AsyncIterable<number>
{
  #closed = false;
  #delivering = false;
  readonly #queues = new Set<PortQueue>();

  constructor() {
    super();
    // Delivery (a poll on a device, a wait on shared memory) only runs while someone listens,
    // so an idle handle neither burns CPU nor keeps the process alive.
    const untyped = this as EventEmitter;
    untyped.on('newListener', (event: string) => {
      if (event === 'pending') queueMicrotask(() => this.#updateDelivery());
    });
    untyped.on('removeListener', (event: string) => {
      if (event === 'pending') this.#updateDelivery();
    });
  }

  /** Allocates a port that `remoteDomid` may later bind to (`EVTCHNOP_alloc_unbound`). */
  abstract bindUnboundPort(remoteDomid: number): number;
  /** Connects a new local port to `remotePort`, an unbound port of `remoteDomid` offered to us. */
  abstract bindInterdomain(remoteDomid: number, remotePort: number): number;
  /** Binds a new local port to virtual IRQ `virq` (`VIRQ_*` in xen.h). */
  abstract bindVirq(virq: number): number;
  /** Sends an event on `port` to whatever is at its other end. */
  abstract notify(port: number): void;
  /** Closes `port`; the peer of an interdomain port becomes unbound. */
  abstract unbind(port: number): void;
  /** Re-enables delivery of a reported port; a notification that arrived meanwhile fires now. */
  abstract unmask(port: number): void;
  /**
   * Limits this handle to interdomain binds with `domid` (`IOCTL_EVTCHN_RESTRICT_DOMID`). Once
   * restricted, virq and unbound binds fail with `EACCES`, and so does a second restrict.
   */
  abstract restrict(domid: number): void;

  /** Starts watching for pending ports; called when the first consumer appears. */
  protected abstract startDelivery(): void;
  /** Stops watching; called when the last consumer leaves and on close. */
  protected abstract stopDelivery(): void;
  /** Releases ports and OS resources; called exactly once by {@link close}. */
  protected abstract release(): void;

  /** True once {@link close} has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Throws `EBADF` when the handle is closed; every public operation calls it first. */
  protected assertOpen(operation: string): void {
    if (this.#closed)
      throw new EvtchnError('EBADF', `${operation}: event channel handle is closed`);
  }

  /** Hands a pending port to every consumer. Backends call it once per report. */
  protected deliver(port: number): void {
    for (const queue of this.#queues) queue.push(port);
    this.emit('pending', port);
  }

  /** Ends delivery with an error: iterators reject, `error` listeners hear it. */
  protected fail(error: Error): void {
    this.#setDelivering(false);
    for (const queue of this.#queues) queue.fail(error);
    this.#queues.clear();
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /**
   * Pending ports as an async iterable. The iteration ends when the handle is closed; breaking
   * out of the loop stops listening.
   */
  pending(): AsyncIterableIterator<number> {
    this.assertOpen('pending');
    const queue = new PortQueue(() => {
      this.#queues.delete(queue);
      this.#updateDelivery();
    });
    this.#queues.add(queue);
    this.#updateDelivery();
    return queue;
  }

  /** `for await (const port of channel)`: the same as iterating {@link pending}. */
  [Symbol.asyncIterator](): AsyncIterator<number> {
    return this.pending();
  }

  /** Unbinds every port and releases the handle. A second close fails with `EBADF`. */
  close(): void {
    this.assertOpen('close');
    this.#closed = true;
    this.#setDelivering(false);
    for (const queue of this.#queues) queue.end();
    this.#queues.clear();
    this.release();
  }

  /** `await using channel = …`: closes the handle at the end of the scope unless already closed. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#closed) this.close();
  }

  #updateDelivery(): void {
    this.#setDelivering(
      !this.#closed && (this.#queues.size > 0 || this.listenerCount('pending') > 0),
    );
  }

  #setDelivering(on: boolean): void {
    if (on === this.#delivering) return;
    this.#delivering = on;
    if (on) this.startDelivery();
    else this.stopDelivery();
  }
}
