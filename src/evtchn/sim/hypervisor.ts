import type { Worker } from 'node:worker_threads';
import { checkDomid, checkPort, checkVirq, DOMID_SELF } from '../arguments.ts';
import { EvtchnError } from '../errors.ts';
import { Virq } from '../virq.ts';
import { SimulatedGrantTable } from './grant-table.ts';
import {
  DomainState,
  PortState,
  SharedState,
  type SharedStateLimits,
  type WaitOptions,
} from './shared-state.ts';
import { SimulatedEventChannel } from './simulated-event-channel.ts';

/** What `EVTCHNOP_status` reports for a port, plus its 2-level pending and mask bits. */
export type PortStatus =
  | {
      /** Free: never allocated, or closed since. */
      readonly state: 'closed';
      /** An event is waiting: set by a notify, cleared when the handle delivers it. */
      readonly pending: boolean;
      /** Delivery is held off; a pending event is delivered when the port is unmasked. */
      readonly masked: boolean;
    }
  | {
      /** Allocated for `remoteDomid` to bind to, not bound yet. */
      readonly state: 'unbound';
      /** The only domain allowed to bind it. */
      readonly remoteDomid: number;
      /** An event is waiting: set by a notify, cleared when the handle delivers it. */
      readonly pending: boolean;
      /** Delivery is held off; a pending event is delivered when the port is unmasked. */
      readonly masked: boolean;
    }
  | {
      /** Connected to a port of another (or the same) domain. */
      readonly state: 'interdomain';
      /** The domain at the other end. */
      readonly remoteDomid: number;
      /** The port at the other end, in `remoteDomid`'s table. */
      readonly remotePort: number;
      /** An event is waiting: set by a notify, cleared when the handle delivers it. */
      readonly pending: boolean;
      /** Delivery is held off; a pending event is delivered when the port is unmasked. */
      readonly masked: boolean;
    }
  | {
      /** Bound to a virtual IRQ, raised by the hypervisor. */
      readonly state: 'virq';
      /** Which one: a {@link Virq} value. */
      readonly virq: number;
      /** An event is waiting: set by a notify, cleared when the handle delivers it. */
      readonly pending: boolean;
      /** Delivery is held off; a pending event is delivered when the port is unmasked. */
      readonly masked: boolean;
    }
  | {
      /** An inter-processor port within the domain. */
      readonly state: 'ipi';
      /** An event is waiting: set by a notify, cleared when the handle delivers it. */
      readonly pending: boolean;
      /** Delivery is held off; a pending event is delivered when the port is unmasked. */
      readonly masked: boolean;
    };

const DEFAULT_LIMITS: SharedStateLimits = {
  maxDomains: 8,
  portsPerDomain: 1024,
  grantsPerDomain: 64,
};

/**
 * A simulated Xen host for protocol testing: domains, their event-channel port tables with the
 * rules of `xen/common/event_channel.c`, 2-level pending/mask delivery, and grant tables.
 *
 * All state lives in one `SharedArrayBuffer` ({@link buffer}); hand it to a worker and call
 * {@link SimulatedHypervisor.fromShared} there to act as another domain of the same host. Each
 * operation is atomic with respect to every thread (one lock word); waiting for events uses
 * `Atomics.wait`/`Atomics.waitAsync`, never polling.
 *
 * Operations take the acting domain explicitly, like hypercalls issued by that domain. Ports are
 * delivered to an event-channel handle ({@link openEventChannel}) only when bound through it.
 */
export class SimulatedHypervisor {
  readonly #state: SharedState;
  /** Grant tables of this host's domains. */
  readonly grants: SimulatedGrantTable;

  private constructor(state: SharedState) {
    this.#state = state;
    this.grants = new SimulatedGrantTable(state);
  }

  /** A new host with dom0 already running. */
  static create(limits: Partial<SharedStateLimits> & WaitOptions = {}): SimulatedHypervisor {
    const { nativeFutex, ...sizes } = limits;
    const hv = new SimulatedHypervisor(
      SharedState.create({ ...DEFAULT_LIMITS, ...sizes }, { nativeFutex }),
    );
    hv.createDomain(0);
    return hv;
  }

  /**
   * Attaches to a host created in another thread from its
   * {@link SimulatedHypervisor.buffer | buffer}.
   * @throws EvtchnError `EINVAL` for a foreign buffer, `ENOSYS` if the host sleeps on native
   *   futexes and the addon cannot load here
   */
  static fromShared(buffer: SharedArrayBuffer): SimulatedHypervisor {
    return new SimulatedHypervisor(SharedState.attach(buffer));
  }

  /**
   * Ends a worker thread that uses this host, as `worker.terminate()` does, but never in the
   * middle of a hypervisor operation: a thread stopped while holding the host's lock would leave
   * it held and every other thread of the host waiting for good. Use it for any worker that may
   * still be working; resolves as `terminate()` does (the exit code, or `undefined` if it had
   * already stopped).
   */
  stopWorker(worker: Worker): Promise<number> {
    // A thread that has already gone has the id -1 and holds nothing.
    if (worker.threadId < 0) return worker.terminate();
    return this.#state.stopThread(worker.threadId, () => worker.terminate());
  }

  /** The shared memory holding the whole host; transferable to workers. */
  get buffer(): SharedArrayBuffer {
    return this.#state.buffer;
  }

  /** The sizes this host was created with. */
  get limits(): SharedStateLimits {
    return this.#state.limits;
  }

  /**
   * Creates a domain. Without `domid`, takes the lowest unused id above 0.
   * @throws `EEXIST` if the id is taken, `ENOSPC` if every slot is used
   */
  createDomain(domid?: number): number {
    const s = this.#state;
    return s.locked(() => {
      let id = domid;
      if (id === undefined) {
        id = 1;
        while (s.slotOf(id) >= 0) id++;
      }
      checkDomid(id, 'createDomain');
      if (s.slotOf(id) >= 0) throw new EvtchnError('EEXIST', `createDomain: domain ${id} exists`);
      const slot = s.freeSlot();
      if (slot < 0) throw new EvtchnError('ENOSPC', 'createDomain: no free domain slot');
      s.clearSlot(slot);
      s.setDomain(slot, DomainState.alive, id);
      return id;
    });
  }

  /**
   * Destroys a domain as `domain_kill` does: every port is closed (interdomain peers become
   * unbound, naming the dead domain), its grants are revoked, its handles stop, and dom0 gets
   * `VIRQ_DOM_EXC`.
   * @throws `ESRCH` for an unknown domain, `EPERM` for dom0
   */
  destroyDomain(domid: number): void {
    const s = this.#state;
    s.locked(() => {
      const slot = s.requireSlot(domid, 'destroyDomain');
      if (domid === 0) throw new EvtchnError('EPERM', 'destroyDomain: dom0 cannot be destroyed');
      for (let port = 1; port < s.limits.portsPerDomain; port++) {
        if (s.port(slot, port).state !== PortState.free) this.#close(slot, port);
      }
      this.grants.revokeAllLocked(slot);
      s.setDomain(slot, DomainState.free, 0);
      s.wake(slot);
      const dom0 = s.slotOf(0);
      if (dom0 >= 0) this.#raiseVirq(dom0, Virq.DOM_EXC);
    });
  }

  /** Whether domain `domid` exists (is alive). */
  domainExists(domid: number): boolean {
    const s = this.#state;
    return s.locked(() => s.slotOf(domid) >= 0);
  }

  /** Ids of the live domains, ascending. */
  domains(): number[] {
    const s = this.#state;
    return s.locked(() => {
      const ids: number[] = [];
      for (let slot = 0; slot < s.limits.maxDomains; slot++) {
        if (s.domainState(slot) === DomainState.alive) ids.push(s.domainId(slot));
      }
      return ids.sort((a, b) => a - b);
    });
  }

  /**
   * `EVTCHNOP_alloc_unbound`: a port of `domid` that only `remoteDomid` may bind to.
   * `remoteDomid` need not exist yet, as in Xen.
   * @param owner - id of the handle that receives its events (0: none)
   */
  allocUnbound(domid: number, remoteDomid: number, owner = 0): number {
    const s = this.#state;
    const remote = remoteDomid === DOMID_SELF ? domid : checkDomid(remoteDomid, 'allocUnbound');
    return s.locked(() => {
      const slot = s.requireSlot(domid, 'allocUnbound');
      const port = this.#allocPort(slot, 'allocUnbound');
      s.setPort(slot, port, PortState.unbound, remote, 0, owner);
      return port;
    });
  }

  /**
   * `EVTCHNOP_bind_interdomain`: binds a new port of `domid` to `remotePort` of `remoteDomid`,
   * which must be unbound and offered to `domid`. The new port is left pending, as Xen does,
   * because the remote end may have notified before the bind.
   * @throws `ESRCH` unknown remote domain, `EINVAL` remote port not unbound-for-us, `ENOSPC`
   */
  bindInterdomain(domid: number, remoteDomid: number, remotePort: number, owner = 0): number {
    const s = this.#state;
    const rdom = remoteDomid === DOMID_SELF ? domid : checkDomid(remoteDomid, 'bindInterdomain');
    checkPort(remotePort, 'bindInterdomain');
    return s.locked(() => {
      const lslot = s.requireSlot(domid, 'bindInterdomain');
      const rslot = s.requireSlot(rdom, 'bindInterdomain');
      const lport = this.#allocPort(lslot, 'bindInterdomain');
      const remote = this.#validPort(remotePort) ? s.port(rslot, remotePort) : undefined;
      if (remote?.state !== PortState.unbound || remote.a !== domid) {
        throw new EvtchnError(
          'EINVAL',
          `bindInterdomain: port ${remotePort} of domain ${rdom} is not unbound for domain ${domid}`,
        );
      }
      s.setPort(lslot, lport, PortState.interdomain, rdom, remotePort, owner);
      s.setPort(rslot, remotePort, PortState.interdomain, domid, lport, remote.owner);
      this.#setPending(lslot, lport);
      return lport;
    });
  }

  /**
   * `EVTCHNOP_bind_virq` on vCPU 0.
   * @throws `EINVAL` bad virq, `EEXIST` virq already bound in this domain
   */
  bindVirq(domid: number, virq: number, owner = 0): number {
    const s = this.#state;
    checkVirq(virq, 'bindVirq');
    return s.locked(() => {
      const slot = s.requireSlot(domid, 'bindVirq');
      if (s.virqPort(slot, virq) !== 0) {
        throw new EvtchnError('EEXIST', `bindVirq: virq ${virq} is already bound`);
      }
      const port = this.#allocPort(slot, 'bindVirq');
      s.setPort(slot, port, PortState.virq, virq, 0, owner);
      s.setVirqPort(slot, virq, port);
      return port;
    });
  }

  /** `EVTCHNOP_bind_ipi` on vCPU 0: a port whose `send` raises itself. */
  bindIpi(domid: number, owner = 0): number {
    const s = this.#state;
    return s.locked(() => {
      const slot = s.requireSlot(domid, 'bindIpi');
      const port = this.#allocPort(slot, 'bindIpi');
      s.setPort(slot, port, PortState.ipi, 0, 0, owner);
      return port;
    });
  }

  /**
   * `EVTCHNOP_close`. Closing one end of an interdomain channel turns the peer's port into an
   * unbound port whose allowed remote is the closer's domain.
   * @param owner - when given, the port must be bound through that handle (else `ENOTCONN`)
   * @throws `EINVAL` for a free, reserved or out-of-range port
   */
  close(domid: number, port: number, owner?: number): void {
    const s = this.#state;
    s.locked(() => {
      const slot = s.requireSlot(domid, 'close');
      this.#checkOwner(slot, port, owner, 'close');
      this.#requireBound(slot, port, 'close');
      this.#close(slot, port);
    });
  }

  /**
   * `EVTCHNOP_send`: interdomain raises the peer's port, ipi raises itself, unbound drops the
   * event silently.
   * @param owner - when given, the port must be bound through that handle (else `ENOTCONN`)
   * @throws `EINVAL` for any other state
   */
  send(domid: number, port: number, owner?: number): void {
    const s = this.#state;
    s.locked(() => {
      const slot = s.requireSlot(domid, 'send');
      this.#checkOwner(slot, port, owner, 'send');
      const entry = this.#validPort(port) ? s.port(slot, port) : undefined;
      switch (entry?.state) {
        case PortState.interdomain:
          this.#setPending(s.requireSlot(entry.a, 'send'), entry.b);
          return;
        case PortState.ipi:
          this.#setPending(slot, port);
          return;
        case PortState.unbound:
          return;
        default:
          throw new EvtchnError('EINVAL', `send: port ${port} cannot send`);
      }
    });
  }

  /** Sets the mask bit of `port`, as a guest does in its shared-info page. */
  mask(domid: number, port: number): void {
    const s = this.#state;
    s.locked(() => {
      const slot = s.requireSlot(domid, 'mask');
      if (!this.#validPort(port)) throw new EvtchnError('EINVAL', `mask: bad port ${port}`);
      s.setMasked(slot, port, true);
    });
  }

  /**
   * `EVTCHNOP_unmask`: clears the mask bit; a port that became pending while masked is delivered
   * now.
   * @param owner - when given, the port must be bound through that handle (else `ENOTCONN`)
   * @throws `EINVAL` for an out-of-range port
   */
  unmask(domid: number, port: number, owner?: number): void {
    const s = this.#state;
    s.locked(() => {
      const slot = s.requireSlot(domid, 'unmask');
      this.#checkOwner(slot, port, owner, 'unmask');
      if (!this.#validPort(port)) throw new EvtchnError('EINVAL', `unmask: bad port ${port}`);
      s.setMasked(slot, port, false);
      if (s.isPending(slot, port)) {
        s.select(slot, port);
        s.wake(slot);
      }
    });
  }

  /** `EVTCHNOP_status`. @throws `ESRCH` unknown domain, `EINVAL` out-of-range port */
  status(domid: number, port: number): PortStatus {
    const s = this.#state;
    return s.locked(() => {
      const slot = s.requireSlot(domid, 'status');
      if (!this.#validPort(port)) throw new EvtchnError('EINVAL', `status: bad port ${port}`);
      const entry = s.port(slot, port);
      const bits = { pending: s.isPending(slot, port), masked: s.isMasked(slot, port) };
      switch (entry.state) {
        case PortState.unbound:
          return { state: 'unbound', remoteDomid: entry.a, ...bits };
        case PortState.interdomain:
          return { state: 'interdomain', remoteDomid: entry.a, remotePort: entry.b, ...bits };
        case PortState.virq:
          return { state: 'virq', virq: entry.a, ...bits };
        case PortState.ipi:
          return { state: 'ipi', ...bits };
        default:
          return { state: 'closed', ...bits };
      }
    });
  }

  /** `EVTCHNOP_reset`: closes every port of the domain. */
  reset(domid: number): void {
    const s = this.#state;
    s.locked(() => {
      const slot = s.requireSlot(domid, 'reset');
      for (let port = 1; port < s.limits.portsPerDomain; port++) {
        if (s.port(slot, port).state !== PortState.free) this.#close(slot, port);
      }
    });
  }

  /** Raises `virq` in `domid` as the hypervisor would; nothing happens if it is not bound. */
  raiseVirq(domid: number, virq: number): void {
    const s = this.#state;
    checkVirq(virq, 'raiseVirq');
    s.locked(() => this.#raiseVirq(s.requireSlot(domid, 'raiseVirq'), virq));
  }

  /** Opens a device-style event-channel handle acting as domain `domid`. */
  openEventChannel(domid: number): SimulatedEventChannel {
    return new SimulatedEventChannel(this.#state, this, domid);
  }

  /**
   * Reports the deliverable ports of `owner` in `domid` the way the Linux evtchn driver does:
   * each is masked and its pending bit cleared before being returned.
   * @internal used by {@link SimulatedEventChannel}
   */
  takePending(domid: number, owner: number): number[] {
    const s = this.#state;
    return s.locked(() => {
      const slot = s.requireSlot(domid, 'pending');
      const taken: number[] = [];
      for (const port of s.deliverablePorts(slot)) {
        if (s.portOwner(slot, port) !== owner) {
          s.select(slot, port);
          continue;
        }
        s.setMasked(slot, port, true);
        s.clearPending(slot, port);
        taken.push(port);
      }
      return taken;
    });
  }

  #validPort(port: number): boolean {
    return Number.isInteger(port) && port > 0 && port < this.#state.limits.portsPerDomain;
  }

  #checkOwner(slot: number, port: number, owner: number | undefined, operation: string): void {
    if (owner === undefined) return;
    const bound = this.#validPort(port) ? this.#state.port(slot, port) : undefined;
    if (bound?.state === PortState.free || bound?.owner !== owner) {
      throw new EvtchnError('ENOTCONN', `${operation}: port ${port} is not bound to this handle`);
    }
  }

  #requireBound(slot: number, port: number, operation: string): void {
    if (!this.#validPort(port) || this.#state.port(slot, port).state === PortState.free) {
      throw new EvtchnError('EINVAL', `${operation}: port ${port} is not bound`);
    }
  }

  #allocPort(slot: number, operation: string): number {
    const s = this.#state;
    const port = s.freePort(slot);
    if (port < 0) throw new EvtchnError('ENOSPC', `${operation}: no free port`);
    // A recycled port starts clean, as free_evtchn/evtchn_port_init leave it.
    s.clearPending(slot, port);
    s.setMasked(slot, port, false);
    return port;
  }

  #close(slot: number, port: number): void {
    const s = this.#state;
    const entry = s.port(slot, port);
    if (entry.state === PortState.virq) s.setVirqPort(slot, entry.a, 0);
    if (entry.state === PortState.interdomain) {
      const peerSlot = s.slotOf(entry.a);
      if (peerSlot >= 0) {
        const peer = s.port(peerSlot, entry.b);
        s.setPort(peerSlot, entry.b, PortState.unbound, s.domainId(slot), 0, peer.owner);
      }
    }
    s.setPort(slot, port, PortState.free, 0, 0, 0);
    s.clearPending(slot, port);
  }

  /** `evtchn_2l_set_pending`: only a newly pending, unmasked port wakes the domain. */
  #setPending(slot: number, port: number): void {
    const s = this.#state;
    if (s.testAndSetPending(slot, port) || s.isMasked(slot, port)) return;
    s.select(slot, port);
    s.wake(slot);
  }

  #raiseVirq(slot: number, virq: number): void {
    const port = this.#state.virqPort(slot, virq);
    if (port !== 0) this.#setPending(slot, port);
  }
}
