import type { Transaction } from '../xenstore/index.ts';
import { type DeviceConnection, DeviceEnd, type DeviceEndOptions } from './device-end.ts';
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

/** How the frontend sets up its ring. */
export interface FrontendConnectOptions {
  /**
   * Ring pages to grant, a power of two (default 1). One page is published as `ring-ref`; more
   * as `ring-page-order` and `ring-ref0` … `ring-ref<N-1>`, as multi-page block and net rings do.
   */
  readonly ringPages?: number;
  /**
   * Lays out the fresh ring before the backend may see it and returns further keys to publish
   * in the same transaction (protocol details of the driver).
   */
  readonly prepare?: (
    ring: SharedPages,
    port: number,
  ) => Readonly<Record<string, string>> | undefined;
  /** Called once when the connection ends, before the ring and port are released. */
  readonly onDisconnect?: (reason: XenbusError | undefined) => void;
}

/**
 * The frontend end of a split device, in the guest: grants the ring, offers the backend an event
 * channel, publishes both with state Initialised in one transaction, and follows the backend to
 * Connected; later follows it to Closing or death and tears down.
 */
export class XenbusFrontend extends DeviceEnd {
  readonly path: string;
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
    const count = options.ringPages ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > 256 || (count & (count - 1)) !== 0) {
      throw new XenbusError('EINVAL', `ringPages ${count} is not a power of two up to 256`);
    }
    await this.awaitPeer((state) => {
      if (state === XenbusState.InitWait) return true;
      if (state === undefined || state <= XenbusState.Initialising) return false;
      return unexpectedState('backend', state, 'before InitWait');
    }, 'backend InitWait');

    const ring = this.platform.grantPages(this.backendDomid, count);
    let port: number;
    try {
      port = this.platform.eventChannel.bindUnboundPort(this.backendDomid);
    } catch (error) {
      ring.release();
      throw error;
    }
    const connection: DeviceConnection = { ring, port, peerDomid: this.backendDomid };
    try {
      const extra = options.prepare?.(ring, port) ?? {};
      await this.client.transaction((tx) => this.#publish(tx, connection, extra));
      await this.awaitPeer((state) => {
        if (state === XenbusState.Connected) return true;
        if (state === XenbusState.InitWait || state === XenbusState.Initialised) return false;
        return unexpectedState('backend', state, 'instead of Connected');
      }, 'backend Connected');
      await this.setState(XenbusState.Connected);
    } catch (error) {
      this.platform.eventChannel.unbind(port);
      // Grants the backend mapped cannot end yet; they go with the domain or a later close.
      try {
        ring.release();
      } catch {}
      await this.setState(XenbusState.Closed).catch(() => {});
      throw error;
    }
    this.established(connection, (state) => state === XenbusState.Connected, options.onDisconnect);
    return connection;
  }

  protected peerReleased(state: XenbusState | undefined): boolean {
    return state === undefined || state === XenbusState.Closed;
  }

  /** The backend's current state (absent: `undefined`). */
  backendState(): Promise<XenbusState | undefined> {
    return readState(this.client, `${this.backendPath}/state`);
  }

  async #publish(
    tx: Transaction,
    connection: DeviceConnection,
    extra: Readonly<Record<string, string>>,
  ): Promise<void> {
    const { refs } = connection.ring;
    if (refs.length === 1) {
      await tx.write(`${this.path}/ring-ref`, String(refs[0]));
    } else {
      await tx.write(`${this.path}/ring-page-order`, String(Math.log2(refs.length)));
      for (const [i, ref] of refs.entries())
        await tx.write(`${this.path}/ring-ref${i}`, String(ref));
    }
    await tx.write(`${this.path}/event-channel`, String(connection.port));
    for (const [key, value] of Object.entries(extra)) await tx.write(`${this.path}/${key}`, value);
    await tx.write(`${this.path}/state`, String(XenbusState.Initialised));
  }
}
