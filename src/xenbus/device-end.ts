import { EventEmitter } from 'node:events';
import type { XenstoreClient } from '../xenstore/index.ts';
import { XenbusError } from './errors.ts';
import { followPeer, type Peer, type StateDecision } from './peer-follower.ts';
import type { DevicePlatform, SharedPages } from './platform.ts';
import { XenbusState, xenbusStateName } from './state.ts';

/** Default limit of each wait on the peer. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** What both ends are given. */
export interface DeviceEndOptions {
  /** This domain's xenstore connection. */
  readonly client: XenstoreClient;
  /**
   * How rings are shared and signalled: `xenPlatform()` on a real Xen host, a simulated
   * host's platform in tests.
   */
  readonly platform: DevicePlatform;
  /** Device type (`vchan`, `vif`, …). */
  readonly type: string;
  /** Device number (default 0). */
  readonly devid?: number;
  /** Limit of each wait on the peer during the handshake and close (default 10 s). */
  readonly timeoutMs?: number;
}

/** One ring of a device and the event channel that signals it, as seen from one end. */
export interface DeviceQueue {
  /** The ring pages (granted by the frontend, mapped by the backend). */
  readonly ring: SharedPages;
  /** This end's port of the queue's event channel. */
  readonly port: number;
}

/** The shared rings and event channels of a connected device, as seen from one end. */
export interface DeviceConnection extends DeviceQueue {
  /**
   * Every queue, in order; most devices have one, and {@link ring} and {@link port} are the
   * first's. Multi-queue devices (blkif's `multi-queue-num-queues`) have one per `queue-N`.
   */
  readonly queues: readonly DeviceQueue[];
  /** The peer's domain. */
  readonly peerDomid: number;
}

/** Events of a device end. */
export interface DeviceEndEvents {
  /**
   * The connection is over and its resources released: after {@link DeviceEnd.close} (no error)
   * or because the peer closed (`ECONNRESET`), broke the protocol (`EPROTO`) or died (`ESRCH`).
   */
  closed: [reason: XenbusError | undefined];
}

/**
 * What the frontend and backend share: this end's state key, the peer it follows, the
 * resources a connection holds, and the orderly close (Closing, wait for the peer, release,
 * Closed).
 */
export abstract class DeviceEnd extends EventEmitter<DeviceEndEvents> {
  /** The xenstore connection the handshake runs over; the device does not close it. */
  readonly client: XenstoreClient;
  /** Where the rings' pages and event channels come from. */
  readonly platform: DevicePlatform;
  /** Limit, in milliseconds, of each wait on the peer during the handshake and close. */
  readonly timeoutMs: number;
  /** This end's device directory. */
  abstract readonly path: string;
  /** The other end. */
  protected abstract readonly peer: Peer;
  #connection: DeviceConnection | undefined;
  #onDisconnect: ((reason: XenbusError | undefined) => void) | undefined;
  readonly #monitor = new AbortController();
  #closing: Promise<void> | undefined;

  protected constructor(options: DeviceEndOptions) {
    super();
    this.client = options.client;
    this.platform = options.platform;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** The live connection, once connected and until closed. */
  get connection(): DeviceConnection | undefined {
    return this.#connection;
  }

  /** Writes this end's state. */
  protected setState(state: XenbusState): Promise<void> {
    return this.client.write(`${this.path}/state`, String(state));
  }

  /** Waits, within the handshake's limit, until `decide` accepts the peer's state. */
  protected async awaitPeer(decide: StateDecision, what: string): Promise<XenbusState | undefined> {
    return followPeer(this.peer, decide, { what, timeoutMs: this.timeoutMs });
  }

  /**
   * Records the connection and follows the peer until it leaves `connected` states; then tears
   * the connection down. `onDisconnect` runs first, so users stop touching the pages before they
   * go.
   */
  protected established(
    connection: DeviceConnection,
    stillConnected: StateDecision,
    onDisconnect?: (reason: XenbusError | undefined) => void,
  ): void {
    this.#connection = connection;
    this.#onDisconnect = onDisconnect;
    const { signal } = this.#monitor;
    // Resolves when the peer leaves, rejects on a protocol error or death; ends on close().
    followPeer(this.peer, (state) => !stillConnected(state), { what: 'connection', signal }).then(
      (state) => {
        if (signal.aborted) return;
        const reason = new XenbusError('ECONNRESET', `peer moved to ${xenbusStateName(state)}`);
        this.#shutdown(reason).catch(() => {});
      },
      (error: unknown) => {
        if (signal.aborted) return;
        const reason =
          error instanceof XenbusError
            ? error
            : new XenbusError('ECONNRESET', 'following the peer failed', { cause: error });
        // The outcome reaches users through 'closed'.
        this.#shutdown(reason).catch(() => {});
      },
    );
  }

  /**
   * Closes the device: Closing, then (unless the peer is gone) waiting for the peer to close,
   * releasing the ring and port, and Closed. Resolves once done; safe to call more than once.
   */
  close(): Promise<void> {
    return this.#shutdown(undefined);
  }

  #shutdown(reason: XenbusError | undefined): Promise<void> {
    this.#closing ??= (async () => {
      this.#monitor.abort();
      const problems: string[] = [];
      try {
        this.#onDisconnect?.(reason);
      } catch (error) {
        // A failing driver hook must not keep the device from closing.
        problems.push((error as Error).message);
      }
      await this.#setStateQuietly(XenbusState.Closing, problems);
      // Without a connection there is nothing the peer could still hold.
      if (this.#connection && reason?.code !== 'ESRCH') {
        // The backend must unmap before the frontend may end its grants: wait for the peer.
        await this.awaitPeerRelease().catch((error: Error) => problems.push(error.message));
      }
      problems.push(...this.#release());
      await this.#setStateQuietly(XenbusState.Closed, problems);
      this.emit('closed', reason);
      if (problems.length > 0 && reason === undefined) {
        throw new XenbusError(
          'EBUSY',
          `closing the device did not go cleanly: ${problems.join('; ')}`,
        );
      }
    })();
    return this.#closing;
  }

  /** True once the peer has let go of the shared resources, so this end may release its own. */
  protected abstract peerReleased(state: XenbusState | undefined): boolean;

  /**
   * Waits, within the handshake's limit, until the peer has let go of what this end shares or
   * maps, so that it may release its own: by default until {@link peerReleased} says so.
   */
  protected async awaitPeerRelease(): Promise<void> {
    await this.awaitPeer((state) => this.peerReleased(state), 'peer closing');
  }

  /** Frees the port and pages; collects failures rather than stopping at the first. */
  #release(): string[] {
    const problems: string[] = [];
    const connection = this.#connection;
    this.#connection = undefined;
    if (!connection) return problems;
    return releaseQueues(this.platform, connection.queues);
  }

  /**
   * Writes the state while the directory exists: after the toolstack removed the device, a
   * write would bring a stray directory back. A close goes on whatever xenstore says.
   */
  async #setStateQuietly(state: XenbusState, problems: string[]): Promise<void> {
    try {
      await this.writeStateIfPresent(state);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }

  /** Writes this end's state unless its directory is gone (see {@link close}). */
  protected async writeStateIfPresent(state: XenbusState): Promise<void> {
    await this.client.transaction(async (tx) => {
      if (await tx.exists(this.path)) await tx.write(`${this.path}/state`, String(state));
    });
  }
}

/**
 * Sets up `count` queues, each its ring and then its port, all or nothing: on a failure what
 * was set up is released and the error thrown.
 */
export function setUpQueues(
  platform: DevicePlatform,
  count: number,
  ringOf: (index: number) => SharedPages,
  portOf: (index: number) => number,
): DeviceQueue[] {
  const queues: DeviceQueue[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const ring = ringOf(i);
      try {
        queues.push({ ring, port: portOf(i) });
      } catch (error) {
        ring.release();
        throw error;
      }
    }
  } catch (error) {
    releaseQueues(platform, queues);
    throw error;
  }
  return queues;
}

/**
 * Unbinds each queue's port and releases its ring, going on past failures; returns their
 * messages.
 */
export function releaseQueues(platform: DevicePlatform, queues: readonly DeviceQueue[]): string[] {
  const problems: string[] = [];
  for (const queue of queues) {
    for (const step of [
      () => platform.eventChannel.unbind(queue.port),
      () => queue.ring.release(),
    ]) {
      try {
        step();
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
  }
  return problems;
}
