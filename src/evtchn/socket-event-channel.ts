import { lstatSync, unlinkSync } from 'node:fs';
import { type FdWatch, loadNative, type XenwireNative } from '../device/native.ts';
import { checkDomid, checkPort, checkVirq } from './arguments.ts';
import { BindRestriction } from './bind-restriction.ts';
import { EvtchnError, toEvtchnError } from './errors.ts';
import { EventChannel } from './event-channel.ts';

/** Translation between local port numbers and the numbers carried in datagrams. */
export interface PortMap {
  /** Number to put in the datagram that notifies local port `port`'s peer. */
  toWire(port: number): number;
  /** Local port a received number refers to (`undefined`: not ours, ignore it). */
  fromWire(wire: number): number | undefined;
}

/** Datagrams carry the port number both ends share (the harness convention). */
export const IDENTITY_PORT_MAP: PortMap = { toWire: (port) => port, fromWire: (wire) => wire };

/** Where the datagrams go and how ports are numbered. */
export interface SocketEventChannelOptions {
  /** Path to bind; events for this end arrive here. A stale socket file there is replaced. */
  readonly localPath: string;
  /** Socket the peer receives on; every notify sends one datagram there. */
  readonly peerPath: string;
  /** Defaults to {@link IDENTITY_PORT_MAP}. */
  readonly portMap?: PortMap;
  /** Local ports handed out by {@link SocketEventChannel.bindUnboundPort}. Default 1 … 4094. */
  readonly portRange?: readonly [first: number, last: number];
  /** Fixed port per virq (e.g. `{ 3: 4095 }`: the harness's VIRQ_DOM_EXC). */
  readonly virqPorts?: Readonly<Record<number, number>>;
}

type Target =
  | { kind: 'unbound'; remoteDomid: number }
  | { kind: 'interdomain'; remoteDomid: number }
  | { kind: 'virq'; virq: number };

/**
 * A bound port: what it is bound to, and its delivery state, kept on the binding rather than in
 * sets (a set emptied and refilled on every wake-up reallocates its table each time).
 */
type Binding = Target & {
  /** Reported and not unmasked since. */
  masked: boolean;
  /** Fired while masked: reported again at the unmask. */
  firedWhileMasked: boolean;
};

/**
 * Event channels over a pair of unix datagram sockets, for driving a real C xenstored under the
 * test harness's LD_PRELOAD shim (see harness/README.md) or any peer using the same convention:
 * each datagram carries one port number, 4 bytes little-endian.
 *
 * There is no hypervisor in between, so both ends use the same number for a channel: binding
 * interdomain to remote port `p` binds local port `p`, and `notify(p)` sends `p` (remap with
 * {@link SocketEventChannelOptions.portMap}). Notify works on unbound ports too, since only the
 * peer knows whether it has bound the other end. Delivery follows the device semantics: a
 * reported port is masked until {@link unmask}, and one that fires meanwhile is reported then.
 *
 * Node cannot open unix datagram sockets itself; the native addon does (socket, sendto), and
 * reads what arrived whenever the event loop's poller finds the socket readable: every queued
 * datagram at once, each port reported once per wake-up however many datagrams named it, as a
 * pending bit would (C xenstored sends four for one reply on a ring).
 */
export class SocketEventChannel extends EventChannel {
  readonly #native: XenwireNative;
  readonly #fd: number;
  readonly #options: SocketEventChannelOptions;
  readonly #map: PortMap;
  readonly #bindings = new Map<number, Binding>();
  readonly #restriction = new BindRestriction();
  #watch: FdWatch | undefined;
  #malformed = 0;

  private constructor(native: XenwireNative, fd: number, options: SocketEventChannelOptions) {
    super();
    this.#native = native;
    this.#fd = fd;
    this.#options = options;
    this.#map = options.portMap ?? IDENTITY_PORT_MAP;
  }

  /**
   * Binds `localPath` and returns the handle.
   * @throws DeviceError `ENOSYS` without the native addon; EvtchnError `EADDRINUSE` if a
   *   non-socket file is in the way, `ENAMETOOLONG` for a path over 107 bytes
   */
  static open(options: SocketEventChannelOptions): SocketEventChannel {
    const native = loadNative();
    const [first, last] = options.portRange ?? [1, 4094];
    if (!Number.isInteger(first) || !Number.isInteger(last) || first < 1 || last < first) {
      throw new EvtchnError('EINVAL', 'portRange must be [first, last] with 1 <= first <= last');
    }
    try {
      if (lstatSync(options.localPath, { throwIfNoEntry: false })?.isSocket()) {
        unlinkSync(options.localPath);
      }
      return new SocketEventChannel(native, native.unixDgramBind(options.localPath), options);
    } catch (error) {
      throw toEvtchnError(error, `bind ${options.localPath}`);
    }
  }

  /** Datagrams received that were not exactly 4 bytes long (dropped). */
  get malformedDatagrams(): number {
    return this.#malformed;
  }

  bindUnboundPort(remoteDomid: number): number {
    this.assertOpen('bindUnboundPort');
    this.#restriction.check('bindUnboundPort');
    checkDomid(remoteDomid, 'bindUnboundPort');
    const [first, last] = this.#options.portRange ?? [1, 4094];
    for (let port = first; port <= last; port++) {
      if (!this.#bindings.has(port)) return this.#bind(port, { kind: 'unbound', remoteDomid });
    }
    throw new EvtchnError('ENOSPC', 'bindUnboundPort: no free port in range');
  }

  bindInterdomain(remoteDomid: number, remotePort: number): number {
    this.assertOpen('bindInterdomain');
    checkDomid(remoteDomid, 'bindInterdomain');
    this.#restriction.check('bindInterdomain', remoteDomid);
    if (checkPort(remotePort, 'bindInterdomain') === 0) {
      throw new EvtchnError('EINVAL', 'bindInterdomain: port 0 is reserved');
    }
    if (this.#bindings.has(remotePort)) {
      throw new EvtchnError('EBUSY', `bindInterdomain: local port ${remotePort} is already bound`);
    }
    return this.#bind(remotePort, { kind: 'interdomain', remoteDomid });
  }

  bindVirq(virq: number): number {
    this.assertOpen('bindVirq');
    this.#restriction.check('bindVirq');
    checkVirq(virq, 'bindVirq');
    const port = this.#options.virqPorts?.[virq];
    if (port === undefined) {
      throw new EvtchnError('EINVAL', `bindVirq: no port configured for virq ${virq}`);
    }
    for (const binding of this.#bindings.values()) {
      if (binding.kind === 'virq' && binding.virq === virq) {
        throw new EvtchnError('EEXIST', `bindVirq: virq ${virq} is already bound`);
      }
    }
    if (this.#bindings.has(port)) {
      throw new EvtchnError('EBUSY', `bindVirq: local port ${port} is already bound`);
    }
    return this.#bind(port, { kind: 'virq', virq });
  }

  notify(port: number): void {
    const binding = this.#binding(port, 'notify');
    if (binding.kind === 'virq') throw new EvtchnError('EINVAL', `notify: port ${port} is a virq`);
    try {
      this.#native.unixDgramSendPort(this.#fd, this.#options.peerPath, this.#map.toWire(port));
    } catch (error) {
      const failure = toEvtchnError(error, 'notify');
      // No peer listening, or its queue is full: the event is lost, as a kick nobody waits for.
      if (!['ENOENT', 'ECONNREFUSED', 'EAGAIN'].includes(failure.code)) throw failure;
    }
  }

  unbind(port: number): void {
    this.#binding(port, 'unbind');
    this.#bindings.delete(port);
  }

  unmask(port: number): void {
    const binding = this.#binding(port, 'unmask');
    binding.masked = false;
    if (binding.firedWhileMasked) {
      binding.firedWhileMasked = false;
      // Report on a later turn so a listener that unmasks is not re-entered.
      queueMicrotask(() => {
        if (!this.closed) this.#fire(port);
      });
    }
  }

  restrict(domid: number): void {
    this.assertOpen('restrict');
    this.#restriction.restrict(domid);
  }

  protected startDelivery(): void {
    // The poller reports the socket readable from its first turn, so datagrams that queued
    // before delivery started are read by the watch like any other.
    this.#watch = this.#native.watchPorts(this.#fd, 'datagram', (errorName, ports, malformed) => {
      if (errorName !== undefined) {
        this.fail(
          new EvtchnError('EIO', `polling ${this.#options.localPath} failed: ${errorName}`),
        );
        return;
      }
      this.#received(ports, malformed);
    });
  }

  protected stopDelivery(): void {
    if (this.#watch) this.#native.unwatch(this.#watch);
    this.#watch = undefined;
  }

  protected release(): void {
    this.#native.closeFd(this.#fd);
    try {
      unlinkSync(this.#options.localPath);
    } catch {
      // Already removed by someone else: nothing to clean.
    }
    this.#bindings.clear();
  }

  #received(ports: readonly number[], malformed: number): void {
    this.#malformed += malformed;
    for (const wire of ports) {
      const port = this.#map.fromWire(wire);
      if (port !== undefined) this.#fire(port);
    }
  }

  /** Device semantics: report and mask, or remember it for the unmask. */
  #fire(port: number): void {
    const binding = this.#bindings.get(port);
    if (binding === undefined) return;
    if (binding.masked) {
      binding.firedWhileMasked = true;
      return;
    }
    binding.masked = true;
    this.deliver(port);
  }

  #bind(port: number, target: Target): number {
    this.#bindings.set(port, { ...target, masked: false, firedWhileMasked: false });
    return port;
  }

  #binding(port: number, operation: string): Binding {
    this.assertOpen(operation);
    checkPort(port, operation);
    const binding = this.#bindings.get(port);
    if (!binding)
      throw new EvtchnError('ENOTCONN', `${operation}: port ${port} is not bound to this handle`);
    return binding;
  }
}
