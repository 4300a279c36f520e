import { closeSync, constants, openSync } from 'node:fs';
import { type FdWatch, loadNative, type XenwireNative } from '../device/native.ts';
import { checkDomid, checkPort, checkVirq } from './arguments.ts';
import { EvtchnError, toEvtchnError } from './errors.ts';
import { EventChannel } from './event-channel.ts';

/** The Linux event-channel device. */
export const EVTCHN_DEVICE = '/dev/xen/evtchn';

/**
 * Event channels of the running domain through Linux's `/dev/xen/evtchn` (what libxenevtchn
 * uses), via the native addon. The kernel enforces the rules; its errno comes back as the
 * error `code`. The descriptor is nonblocking and watched by the event loop's poller, so
 * waiting costs nothing.
 */
export class DeviceEventChannel extends EventChannel {
  readonly #native: XenwireNative;
  readonly #fd: number;
  /** Ports bound through this handle; the kernel ignores unmasks of others, we refuse them. */
  readonly #ports = new Set<number>();
  #watch: FdWatch | undefined;

  private constructor(native: XenwireNative, fd: number) {
    super();
    this.#native = native;
    this.#fd = fd;
  }

  /**
   * Opens the device.
   * @throws DeviceError `ENOSYS` without the native addon; EvtchnError `ENOENT` when not running
   *   on Xen, `EACCES` without permission
   */
  static open(path: string = EVTCHN_DEVICE): DeviceEventChannel {
    const native = loadNative();
    try {
      return new DeviceEventChannel(
        native,
        openSync(path, constants.O_RDWR | constants.O_NONBLOCK),
      );
    } catch (error) {
      throw toEvtchnError(error, `open ${path}`);
    }
  }

  /** The device descriptor, for callers that poll it themselves. */
  get fd(): number {
    return this.#fd;
  }

  bindUnboundPort(remoteDomid: number): number {
    this.assertOpen('bindUnboundPort');
    checkDomid(remoteDomid, 'bindUnboundPort');
    return this.#bound(
      () => this.#native.evtchnBindUnboundPort(this.#fd, remoteDomid),
      'bindUnboundPort',
    );
  }

  bindInterdomain(remoteDomid: number, remotePort: number): number {
    this.assertOpen('bindInterdomain');
    checkDomid(remoteDomid, 'bindInterdomain');
    checkPort(remotePort, 'bindInterdomain');
    return this.#bound(
      () => this.#native.evtchnBindInterdomain(this.#fd, remoteDomid, remotePort),
      'bindInterdomain',
    );
  }

  bindVirq(virq: number): number {
    this.assertOpen('bindVirq');
    checkVirq(virq, 'bindVirq');
    return this.#bound(() => this.#native.evtchnBindVirq(this.#fd, virq), 'bindVirq');
  }

  notify(port: number): void {
    this.assertOpen('notify');
    this.#call(() => this.#native.evtchnNotify(this.#fd, checkPort(port, 'notify')), 'notify');
  }

  unbind(port: number): void {
    this.assertOpen('unbind');
    this.#call(() => this.#native.evtchnUnbind(this.#fd, checkPort(port, 'unbind')), 'unbind');
    this.#ports.delete(port);
  }

  unmask(port: number): void {
    this.assertOpen('unmask');
    checkPort(port, 'unmask');
    if (!this.#ports.has(port)) {
      throw new EvtchnError('ENOTCONN', `unmask: port ${port} is not bound to this handle`);
    }
    this.#call(() => this.#native.evtchnWritePorts(this.#fd, [port]), 'unmask');
  }

  restrict(domid: number): void {
    this.assertOpen('restrict');
    this.#call(() => this.#native.evtchnRestrict(this.#fd, domid), 'restrict');
  }

  /** `IOCTL_EVTCHN_RESET`: unbinds every port of this handle. */
  reset(): void {
    this.assertOpen('reset');
    this.#call(() => this.#native.evtchnReset(this.#fd), 'reset');
    this.#ports.clear();
  }

  protected startDelivery(): void {
    this.#watch = this.#native.watchPorts(this.#fd, 'evtchn', (errorName, ports) => {
      if (errorName !== undefined) {
        this.fail(new EvtchnError('EIO', `polling ${EVTCHN_DEVICE} failed: ${errorName}`));
        return;
      }
      for (const port of ports) this.deliver(port);
    });
  }

  protected stopDelivery(): void {
    if (this.#watch) this.#native.unwatch(this.#watch);
    this.#watch = undefined;
  }

  protected release(): void {
    // Closing the descriptor makes the kernel unbind every port of this handle.
    closeSync(this.#fd);
    this.#ports.clear();
  }

  #bound(bind: () => number, operation: string): number {
    const port = this.#call(bind, operation);
    this.#ports.add(port);
    return port;
  }

  #call<T>(body: () => T, operation: string): T {
    try {
      return body();
    } catch (error) {
      throw toEvtchnError(error, operation);
    }
  }
}
