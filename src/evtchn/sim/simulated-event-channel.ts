import { checkDomid, checkPort, checkVirq } from '../arguments.ts';
import { BindRestriction } from '../bind-restriction.ts';
import { EvtchnError, toEvtchnError } from '../errors.ts';
import { EventChannel } from '../event-channel.ts';
import type { SimulatedHypervisor } from './hypervisor.ts';
import type { SharedState, WaitOptions } from './shared-state.ts';
import { holdEventLoop, releaseEventLoop, whenChanged } from './wait-async.ts';

/**
 * An event-channel handle of one domain of a {@link SimulatedHypervisor}, behaving like an open
 * `/dev/xen/evtchn`: ports bound through it are reported to it alone, each report masks the port,
 * and {@link unmask} re-arms it.
 *
 * Besides the async delivery of {@link EventChannel}, a worker thread may block in
 * {@link waitPending} (`Atomics.wait`), the analogue of a blocking `read()` on the device.
 */
export class SimulatedEventChannel extends EventChannel {
  readonly #state: SharedState;
  readonly #hv: SimulatedHypervisor;
  readonly #owner: number;
  readonly #ports = new Set<number>();
  /** Where this domain's sleepers wait; its slot does not move while the domain lives. */
  readonly #wakeIndex: number;
  readonly #restriction = new BindRestriction();
  /** Bumped to stop the running delivery loop. */
  #loop = 0;
  /** Whether this handle holds the thread's event loop alive (see `holdEventLoop`). */
  #holding = false;

  /** Use {@link SimulatedHypervisor.openEventChannel}. @internal */
  constructor(
    state: SharedState,
    hv: SimulatedHypervisor,
    /** The domain this handle acts as. */
    readonly domid: number,
  ) {
    super();
    const slot = state.locked(() => state.requireSlot(domid, 'open'));
    this.#wakeIndex = state.wakeIndex(slot);
    this.#state = state;
    this.#hv = hv;
    this.#owner = state.newOwnerId();
  }

  bindUnboundPort(remoteDomid: number): number {
    this.assertOpen('bindUnboundPort');
    this.#restriction.check('bindUnboundPort');
    checkDomid(remoteDomid, 'bindUnboundPort');
    return this.#bound(this.#hv.allocUnbound(this.domid, remoteDomid, this.#owner));
  }

  bindInterdomain(remoteDomid: number, remotePort: number): number {
    this.assertOpen('bindInterdomain');
    checkDomid(remoteDomid, 'bindInterdomain');
    this.#restriction.check('bindInterdomain', remoteDomid);
    return this.#bound(this.#hv.bindInterdomain(this.domid, remoteDomid, remotePort, this.#owner));
  }

  bindVirq(virq: number): number {
    this.assertOpen('bindVirq');
    this.#restriction.check('bindVirq');
    checkVirq(virq, 'bindVirq');
    return this.#bound(this.#hv.bindVirq(this.domid, virq, this.#owner));
  }

  notify(port: number): void {
    this.#assertOwned(port, 'notify');
    this.#hv.send(this.domid, port, this.#owner);
  }

  unbind(port: number): void {
    this.#assertOwned(port, 'unbind');
    this.#hv.close(this.domid, port, this.#owner);
    this.#ports.delete(port);
  }

  unmask(port: number): void {
    this.#assertOwned(port, 'unmask');
    this.#hv.unmask(this.domid, port, this.#owner);
  }

  restrict(domid: number): void {
    this.assertOpen('restrict');
    this.#restriction.restrict(domid);
  }

  /**
   * Takes the ports pending for this handle right now (masking each), without waiting. Use it
   * instead of the `pending` event or iterator, not alongside them.
   */
  takePending(): number[] {
    this.assertOpen('takePending');
    return this.#hv.takePending(this.domid, this.#owner);
  }

  /**
   * Blocks the calling thread until ports are pending for this handle, then takes them like
   * {@link takePending}. Only for worker threads: it sleeps in `Atomics.wait` (or the native
   * futex, see {@link WaitOptions.nativeFutex}), never spins.
   * @param timeoutMs - give up after this long and return `[]` (default: wait forever)
   */
  waitPending(timeoutMs = Number.POSITIVE_INFINITY): number[] {
    this.assertOpen('waitPending');
    const { words, index } = this.#wakeWord();
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const seen = Atomics.load(words, index);
      const ports = this.#hv.takePending(this.domid, this.#owner);
      if (ports.length > 0 || this.closed) return ports;
      const left = deadline - performance.now();
      if (left <= 0) return [];
      this.#state.waitSync(index, seen, left);
    }
  }

  protected startDelivery(): void {
    // While someone consumes events, the handle keeps the thread alive as an open device would.
    if (!this.#holding) holdEventLoop();
    this.#holding = true;
    this.#deliver(++this.#loop);
  }

  protected stopDelivery(): void {
    if (this.#holding) releaseEventLoop();
    this.#holding = false;
    this.#loop++;
    // The loop sleeps on the domain's wake word; bump it so the loop sees it was stopped.
    Atomics.add(this.#state.words, this.#wakeIndex, 1);
    this.#state.notify(this.#wakeIndex);
  }

  protected release(): void {
    for (const port of this.#ports) {
      try {
        this.#hv.close(this.domid, port);
      } catch {
        // The domain died or the port was closed by its owner domain: nothing left to release.
      }
    }
    this.#ports.clear();
  }

  /** Delivers what is pending, then sleeps on the domain's wake word until it changes. */
  #deliver(loop: number): void {
    const { words, index } = this.#wakeWord();
    while (loop === this.#loop) {
      const seen = Atomics.load(words, index);
      let ports: number[];
      try {
        ports = this.#hv.takePending(this.domid, this.#owner);
      } catch (error) {
        this.fail(toEvtchnError(error, 'pending'));
        return;
      }
      for (const port of ports) {
        if (loop !== this.#loop) return;
        this.deliver(port);
      }
      if (ports.length === 0) {
        whenChanged(words, index, seen, () => this.#deliver(loop));
        return;
      }
    }
  }

  #wakeWord(): { words: Int32Array; index: number } {
    return { words: this.#state.words, index: this.#wakeIndex };
  }

  #bound(port: number): number {
    this.#ports.add(port);
    return port;
  }

  #assertOwned(port: number, operation: string): void {
    this.assertOpen(operation);
    checkPort(port, operation);
    // The hypervisor re-checks ownership under its lock; this catches ports never bound here.
    if (!this.#ports.has(port)) {
      throw new EvtchnError('ENOTCONN', `${operation}: port ${port} is not bound to this handle`);
    }
  }
}
