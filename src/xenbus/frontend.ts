import type { Transaction } from '../xenstore/index.ts';
import {
  type DeviceConnection,
  DeviceEnd,
  type DeviceEndOptions,
  type DeviceQueue,
  releaseQueues,
  setUpQueues,
} from './device-end.ts';
import { XenbusError } from './errors.ts';
import { readKey, readNumberKey } from './keys.ts';
import { type Peer, readState, unexpectedState } from './peer-follower.ts';
import type { SharedPages } from './platform.ts';
import { XenbusState } from './state.ts';

/** Options of {@link XenbusFrontend.open}. */
export interface FrontendOptions extends DeviceEndOptions {
  /** This domain's id (default: the platform's, else the `domid` key of this domain's home). */
  readonly domid?: number;
}

/** Ring pages and queues of a connection, as the frontend settles them. */
export interface RingLayout {
  /** Pages of each ring, a power of two up to 256 (default 1). */
  readonly ringPages?: number;
  /** Rings, each with its own event channel (default 1). */
  readonly queues?: number;
}

/** How the frontend sets up its rings. */
export interface FrontendConnectOptions extends RingLayout {
  /**
   * Ring pages to grant per queue, a power of two (default 1). One page is published as
   * `ring-ref`; more as `ring-page-order` and `ring-ref0` … `ring-ref<N-1>`, as multi-page block
   * and net rings do.
   */
  readonly ringPages?: number;
  /**
   * Queues (default 1). More than one is published as blkif's multi-queue layout:
   * `multi-queue-num-queues` and each queue's `ring-ref*` and `event-channel` under `queue-<i>/`.
   */
  readonly queues?: number;
  /**
   * Chooses the layout once the backend is in InitWait, from the keys it advertised there
   * (`read` resolves `undefined` for a missing key); what it returns overrides
   * {@link ringPages} and {@link queues}.
   */
  readonly negotiate?: (
    read: (key: string) => Promise<string | undefined>,
  ) => Promise<RingLayout> | RingLayout;
  /**
   * Lays out the fresh rings before the backend may see them and returns further keys to
   * publish in the same transaction (protocol details of the driver). `ring` and `port` are the
   * first queue's; `connection.queues` has them all.
   */
  readonly prepare?: (
    ring: SharedPages,
    port: number,
    connection: DeviceConnection,
  ) => Readonly<Record<string, string>> | undefined;
  /** Called once when the connection ends, before the rings and ports are released. */
  readonly onDisconnect?: (reason: XenbusError | undefined) => void;
}

/** Most queues a frontend asks for; blkif backends offer a handful. */
const MAX_QUEUES = 256;

/**
 * The frontend end of a split device, in the guest: grants the ring, offers the backend an event
 * channel, publishes both with state Initialised in one transaction, and follows the backend to
 * Connected; later follows it to Closing or death and tears down.
 */
export class XenbusFrontend extends DeviceEnd {
  readonly path: string;
  /** The driver domain serving this device: the grants are made out to it. */
  readonly backendDomid: number;
  /** The backend's directory, from this device's `backend` key. */
  readonly backendPath: string;
  protected readonly peer: Peer;
  #connecting = false;

  private constructor(
    options: DeviceEndOptions,
    path: string,
    backendPath: string,
    backendDomid: number,
  ) {
    super(options);
    this.path = path;
    this.backendPath = backendPath;
    this.backendDomid = backendDomid;
    this.peer = {
      client: this.client,
      platform: this.platform,
      domid: backendDomid,
      path: backendPath,
    };
  }

  /**
   * Finds the device the toolstack created for this domain and moves it to Initialising.
   * @throws XenbusError `ENOENT` when `backend` or `backend-id` is missing, `EPROTO` if malformed
   */
  static async open(options: FrontendOptions): Promise<XenbusFrontend> {
    const domid =
      options.domid ?? options.platform.domid ?? (await readNumberKey(options.client, 'domid'));
    const path = `/local/domain/${domid}/device/${options.type}/${options.devid ?? 0}`;
    const backendPath = await readKey(options.client, `${path}/backend`);
    const backendDomid = await readNumberKey(options.client, `${path}/backend-id`);
    const frontend = new XenbusFrontend(options, path, backendPath, backendDomid);
    await frontend.setState(XenbusState.Initialising);
    return frontend;
  }

  /**
   * Runs the frontend's half of the handshake and resolves once both ends are Connected.
   * @throws XenbusError `ETIMEDOUT` (backend too slow), `EPROTO` (backend out of order),
   *   `ECONNRESET` (backend closing), `ESRCH` (backend domain gone), `EBADF` (called twice)
   */
  async connect(options: FrontendConnectOptions = {}): Promise<DeviceConnection> {
    if (this.#connecting) throw new XenbusError('EBADF', `${this.path}: connect called twice`);
    this.#connecting = true;
    checkLayout(options);
    await this.awaitPeer((state) => {
      if (state === XenbusState.InitWait) return true;
      if (state === undefined || state <= XenbusState.Initialising) return false;
      return unexpectedState('backend', state, 'before InitWait');
    }, 'backend InitWait');
    let layout: RingLayout = options;
    let queues: DeviceQueue[];
    try {
      if (options.negotiate) {
        const chosen = await options.negotiate((key) =>
          this.client.readString(`${this.backendPath}/${key}`).catch(() => undefined),
        );
        layout = { ...options, ...chosen };
        checkLayout(layout);
      }
      // Each queue: its ring granted, and a port offered to the backend.
      queues = setUpQueues(
        this.platform,
        layout.queues ?? 1,
        () => this.platform.grantPages(this.backendDomid, layout.ringPages ?? 1),
        () => this.platform.eventChannel.bindUnboundPort(this.backendDomid),
      );
    } catch (error) {
      // The backend's advertisement was unusable, or nothing could be granted: say so.
      await this.setState(XenbusState.Closed).catch(() => {});
      throw error;
    }
    const first = queues[0] as DeviceQueue;
    const connection: DeviceConnection = { ...first, queues, peerDomid: this.backendDomid };
    try {
      const extra = options.prepare?.(first.ring, first.port, connection) ?? {};
      await this.client.transaction((tx) => this.#publish(tx, queues, extra));
      await this.awaitPeer((state) => {
        if (state === XenbusState.Connected) return true;
        if (state === XenbusState.InitWait || state === XenbusState.Initialised) return false;
        return unexpectedState('backend', state, 'instead of Connected');
      }, 'backend Connected');
      await this.setState(XenbusState.Connected);
    } catch (error) {
      // Grants the backend mapped cannot end yet; they go with the domain or a later close.
      releaseQueues(this.platform, queues);
      await this.setState(XenbusState.Closed).catch(() => {});
      throw error;
    }
    this.established(connection, (state) => state === XenbusState.Connected, options.onDisconnect);
    return connection;
  }

  protected peerReleased(state: XenbusState | undefined): boolean {
    return state === undefined || state === XenbusState.Closed;
  }

  /**
   * Linux's backends (blkback, netback) answer a frontend's Closing with their own Closing, and
   * unmap and go Closed only once the frontend is Closed: so this end writes Closed once the
   * backend is closing, and lets its grants go once the backend is Closed (or gone).
   */
  protected override async awaitPeerRelease(): Promise<void> {
    await this.awaitPeer(
      (state) => state === undefined || state >= XenbusState.Closing,
      'backend closing',
    );
    await this.writeStateIfPresent(XenbusState.Closed);
    await this.awaitPeer((state) => this.peerReleased(state), 'backend Closed');
  }

  /** The backend's current state (absent: `undefined`). */
  backendState(): Promise<XenbusState | undefined> {
    return readState(this.client, `${this.backendPath}/state`);
  }

  async #publish(
    tx: Transaction,
    queues: readonly DeviceQueue[],
    extra: Readonly<Record<string, string>>,
  ): Promise<void> {
    const pages = (queues[0] as DeviceQueue).ring.refs.length;
    if (pages > 1) await tx.write(`${this.path}/ring-page-order`, String(Math.log2(pages)));
    if (queues.length > 1) {
      await tx.write(`${this.path}/multi-queue-num-queues`, String(queues.length));
    }
    for (const [i, queue] of queues.entries()) {
      const dir = queues.length > 1 ? `${this.path}/queue-${i}` : this.path;
      const { refs } = queue.ring;
      if (refs.length === 1) {
        await tx.write(`${dir}/ring-ref`, String(refs[0]));
      } else {
        for (const [j, ref] of refs.entries()) await tx.write(`${dir}/ring-ref${j}`, String(ref));
      }
      await tx.write(`${dir}/event-channel`, String(queue.port));
    }
    for (const [key, value] of Object.entries(extra)) await tx.write(`${this.path}/${key}`, value);
    await tx.write(`${this.path}/state`, String(XenbusState.Initialised));
  }
}

function checkLayout(layout: RingLayout): void {
  const pages = layout.ringPages ?? 1;
  if (!Number.isInteger(pages) || pages < 1 || pages > 256 || (pages & (pages - 1)) !== 0) {
    throw new XenbusError('EINVAL', `ringPages ${pages} is not a power of two up to 256`);
  }
  const queues = layout.queues ?? 1;
  if (!Number.isInteger(queues) || queues < 1 || queues > MAX_QUEUES) {
    throw new XenbusError('EINVAL', `queues ${queues} is not a count from 1 to ${MAX_QUEUES}`);
  }
}
