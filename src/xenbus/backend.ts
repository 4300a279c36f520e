import { type DeviceConnection, DeviceEnd, type DeviceEndOptions } from './device-end.ts';
import { XenbusError } from './errors.ts';
import { parseNumberKey, readKey, readNumberKey } from './keys.ts';
import { type Peer, readState, unexpectedState } from './peer-follower.ts';
import type { SharedPages } from './platform.ts';
import { XenbusState } from './state.ts';

/** Options of {@link XenbusBackend.open}. */
export interface BackendOptions extends DeviceEndOptions {
  /** The frontend's domain. */
  readonly frontendDomid: number;
  /** This domain's id (default: the platform's, else 0). */
  readonly domid?: number;
}

/** How the backend takes up the frontend's ring. */
export interface BackendConnectOptions {
  /**
   * Checks the mapped ring and the frontend's other keys before the backend goes Connected;
   * throwing refuses the connection (the backend then closes).
   */
  readonly accept?: (
    ring: SharedPages,
    read: (key: string) => Promise<string>,
  ) => Promise<void> | void;
  /** Called once when the connection ends, before the ring is unmapped and the port unbound. */
  readonly onDisconnect?: (reason: XenbusError | undefined) => void;
}

/** Most ring pages a frontend may ask for (`ring-page-order` ≤ 8, as the kernel's netback). */
const MAX_RING_ORDER = 8;

/**
 * The backend end of a split device, in the driver domain: announces InitWait, waits for the
 * frontend to publish its ring and event channel (state Initialised), maps and binds them and
 * goes Connected; tears down when the frontend closes, vanishes or dies.
 */
export class XenbusBackend extends DeviceEnd {
  readonly path: string;
  readonly frontendDomid: number;
  /** The frontend's directory, from this device's `frontend` key. */
  readonly frontendPath: string;
  protected readonly peer: Peer;
  #connecting = false;

  private constructor(options: BackendOptions, path: string, frontendPath: string) {
    super(options);
    this.path = path;
    this.frontendDomid = options.frontendDomid;
    this.frontendPath = frontendPath;
    this.peer = {
      client: this.client,
      platform: this.platform,
      domid: options.frontendDomid,
      path: frontendPath,
    };
  }

  /**
   * Takes up a device the toolstack created and moves it to InitWait.
   * @throws XenbusError `ENOENT` when `frontend` or `frontend-id` is missing, `EPROTO` when
   *   `frontend-id` names another domain
   */
  static async open(options: BackendOptions): Promise<XenbusBackend> {
    const domid = options.domid ?? options.platform.domid ?? 0;
    const path = `/local/domain/${domid}/backend/${options.type}/${options.frontendDomid}/${options.devid ?? 0}`;
    const frontendPath = await readKey(options.client, `${path}/frontend`);
    const frontendId = await readNumberKey(options.client, `${path}/frontend-id`);
    if (frontendId !== options.frontendDomid) {
      throw new XenbusError(
        'EPROTO',
        `${path}/frontend-id is ${frontendId}, expected ${options.frontendDomid}`,
      );
    }
    const backend = new XenbusBackend(options, path, frontendPath);
    await backend.setState(XenbusState.InitWait);
    return backend;
  }

  /**
   * Waits for the frontend's details, maps the ring, binds the event channel and goes Connected.
   * @throws XenbusError `ETIMEDOUT` (frontend too slow), `ENOENT` (a key missing), `EPROTO`
   *   (frontend out of order, malformed keys), `ECONNRESET` (frontend closed), `ESRCH` (domain
   *   gone), `EBADF` (called twice); the grant or event-channel error if mapping or binding fails
   */
  async connect(options: BackendConnectOptions = {}): Promise<DeviceConnection> {
    if (this.#connecting) throw new XenbusError('EBADF', `${this.path}: connect called twice`);
    this.#connecting = true;
    try {
      await this.awaitPeer((state) => {
        if (state === XenbusState.Initialised || state === XenbusState.Connected) return true;
        if (state === XenbusState.Initialising || state === XenbusState.InitWait) return false;
        if (state === undefined) {
          return new XenbusError('ECONNRESET', `${this.frontendPath} vanished before connecting`);
        }
        return unexpectedState('frontend', state, 'during the handshake');
      }, 'frontend Initialised');
      const refs = await this.#ringRefs();
      const remotePort = await readNumberKey(this.client, `${this.frontendPath}/event-channel`);
      const ring = this.platform.mapGrants(this.frontendDomid, refs);
      let port: number;
      try {
        port = this.platform.eventChannel.bindInterdomain(this.frontendDomid, remotePort);
      } catch (error) {
        ring.release();
        throw error;
      }
      const connection: DeviceConnection = { ring, port, peerDomid: this.frontendDomid };
      try {
        await options.accept?.(ring, (key) => readKey(this.client, `${this.frontendPath}/${key}`));
        await this.setState(XenbusState.Connected);
      } catch (error) {
        this.platform.eventChannel.unbind(port);
        ring.release();
        throw error;
      }
      this.established(
        connection,
        (state) => state === XenbusState.Initialised || state === XenbusState.Connected,
        options.onDisconnect,
      );
      return connection;
    } catch (error) {
      await this.setState(XenbusState.Closed).catch(() => {});
      throw error;
    }
  }

  protected peerReleased(state: XenbusState | undefined): boolean {
    return state === undefined || state >= XenbusState.Closing;
  }

  /** The frontend's current state (absent: `undefined`). */
  frontendState(): Promise<XenbusState | undefined> {
    return readState(this.client, `${this.frontendPath}/state`);
  }

  /** `ring-ref`, or `ring-page-order` and `ring-ref0..N-1`. */
  async #ringRefs(): Promise<number[]> {
    const orderPath = `${this.frontendPath}/ring-page-order`;
    const text = await this.client.readString(orderPath).catch(() => undefined);
    if (text === undefined)
      return [await readNumberKey(this.client, `${this.frontendPath}/ring-ref`)];
    const order = parseNumberKey(text, orderPath);
    if (order > MAX_RING_ORDER) {
      throw new XenbusError('EPROTO', `${orderPath} is ${order}, above ${MAX_RING_ORDER}`);
    }
    const refs: number[] = [];
    for (let i = 0; i < 2 ** order; i++) {
      refs.push(await readNumberKey(this.client, `${this.frontendPath}/ring-ref${i}`));
    }
    return refs;
  }
}
