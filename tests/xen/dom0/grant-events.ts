import { DeviceEventChannel } from '../../../src/evtchn/index.ts';

/**
 * Longest wait for one event. Only a lost wake-up (or a dead peer) comes near it: under software
 * emulation an event takes milliseconds, so this fails such a run without ever judging speed.
 */
const EVENT_WAIT_MS = 30_000;

/** A wait for an event that never came: the peer missed a notification or is gone. */
export class EventWaitTimeout extends Error {
  override readonly name = 'EventWaitTimeout';
  readonly code = 'ETIMEDOUT';
}

/**
 * One end of an interdomain event channel through the real `/dev/xen/evtchn`, as a ring's owner
 * uses it: {@link notify} is the ring's `Notify`, {@link wait} sleeps until the peer notifies.
 * Both are counted for the report.
 */
export class EventPort {
  /** Notifications sent to the peer. */
  notified = 0;
  /** Events received from the peer (a pending port may merge several notifications). */
  woken = 0;
  readonly #events: AsyncIterableIterator<number>;

  private constructor(
    private readonly channel: DeviceEventChannel,
    readonly port: number,
  ) {
    // Listening from the start: a notification sent before the first wait stays pending.
    this.#events = channel.pending();
  }

  /** Allocates a port that `remoteDomid` binds with {@link connect}. */
  static offer(remoteDomid: number): EventPort {
    const channel = DeviceEventChannel.open();
    return new EventPort(channel, channel.bindUnboundPort(remoteDomid));
  }

  /** Binds to the port `remoteDomid` offered. */
  static connect(remoteDomid: number, remotePort: number): EventPort {
    const channel = DeviceEventChannel.open();
    return new EventPort(channel, channel.bindInterdomain(remoteDomid, remotePort));
  }

  readonly notify = (): void => {
    this.channel.notify(this.port);
    this.notified++;
  };

  /**
   * Resolves at the next event, which may predate the caller's last look at the ring: callers
   * look again and wait again if there is nothing for them. Unmasking before that look means a
   * notification sent after it is delivered, so no wake-up is lost between look and wait.
   */
  async wait(what: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new EventWaitTimeout(
              `no event on port ${this.port} within ${EVENT_WAIT_MS} ms while waiting for ${what}`,
            ),
          ),
        EVENT_WAIT_MS,
      );
    });
    try {
      const { done } = await Promise.race([this.#events.next(), timedOut]);
      if (done) throw new Error(`port ${this.port} closed while waiting for ${what}`);
    } finally {
      clearTimeout(timer);
    }
    this.woken++;
    this.channel.unmask(this.port);
  }

  /** Unbinds the port and closes the device. */
  close(): void {
    this.channel.close();
  }
}
