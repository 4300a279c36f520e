import {
  type DeviceConnection,
  DeviceEnd,
  type DeviceEndOptions,
  type DeviceQueue,
  releaseQueues,
  setUpQueues,
} from './device-end.ts';
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
  /**
   * Keys written with InitWait, in the same transaction: what the frontend reads before it lays
   * out its rings (blkif's `max-ring-page-order`, `multi-queue-max-queues`, …).
   */
  readonly advertise?: Readonly<Record<string, string>>;
}

/** How the backend takes up the frontend's rings. */
export interface BackendConnectOptions {
  /**
   * Checks the mapped rings and the frontend's other keys before the backend goes Connected;
   * throwing refuses the connection (the backend then closes). `ring` is the first queue's;
   * `connection.queues` has them all.
   */
  readonly accept?: (
    ring: SharedPages,
    read: (key: string) => Promise<string>,
    connection: DeviceConnection,
  ) => Promise<void> | void;
  /** Keys written with Connected, in the same transaction (blkif's `sectors`, `info`, …). */
  readonly connectedKeys?: Readonly<Record<string, string>>;
  /** Called once when the connection ends, before the rings are unmapped and the ports unbound. */
  readonly onDisconnect?: (reason: XenbusError | undefined) => void;
  /**
   * Largest `ring-page-order` accepted (default 8, as the kernel's netback; blkback allows 4).
   */
  readonly maxRingPageOrder?: number;
  /** Most queues accepted in `multi-queue-num-queues` (default 1: multi-queue refused). */
  readonly maxQueues?: number;
}

/** Where a queue's keys are in the frontend's directory, and its ring's refs. */
interface QueueLayout {
  readonly dir: string;
  readonly refs: number[];
}

/** Most ring pages a frontend may ask for by default (`ring-page-order` ≤ 8, as netback). */
const MAX_RING_ORDER = 8;

/**
 * The backend end of a split device, in the driver domain: announces InitWait, waits for the
 * frontend to publish its ring and event channel (state Initialised), maps and binds them and
 * goes Connected; tears down when the frontend closes, vanishes or dies.
 */
export class XenbusBackend extends DeviceEnd {
  readonly path: string;
  /** The guest this backend serves: it maps that domain's grants and binds its ports. */
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
    await backend.client.transaction(async (tx) => {
      for (const [key, value] of Object.entries(options.advertise ?? {})) {
        await tx.write(`${path}/${key}`, value);
      }
      await tx.write(`${path}/state`, String(XenbusState.InitWait));
    });
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
      const layout = await this.#queueLayout(options);
      const queues = await this.#attach(layout);
      const first = queues[0] as DeviceQueue;
      const connection: DeviceConnection = { ...first, queues, peerDomid: this.frontendDomid };
      try {
        await options.accept?.(
          first.ring,
          (key) => readKey(this.client, `${this.frontendPath}/${key}`),
          connection,
        );
        await this.client.transaction(async (tx) => {
          for (const [key, value] of Object.entries(options.connectedKeys ?? {})) {
            await tx.write(`${this.path}/${key}`, value);
          }
          await tx.write(`${this.path}/state`, String(XenbusState.Connected));
        });
      } catch (error) {
        releaseQueues(this.platform, queues);
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

  /**
   * Each queue's directory and ring refs: `ring-ref`, or `ring-page-order` and
   * `ring-ref0..N-1`, at the top or (with `multi-queue-num-queues`) under each `queue-<i>`.
   */
  async #queueLayout(options: BackendConnectOptions): Promise<QueueLayout[]> {
    const optional = (path: string) =>
      this.client
        .readString(path)
        .then((text) => parseNumberKey(text, path))
        .catch((error: unknown) => {
          if (error instanceof XenbusError) throw error;
          return undefined;
        });
    const queuesPath = `${this.frontendPath}/multi-queue-num-queues`;
    const count = (await optional(queuesPath)) ?? 1;
    const maxQueues = options.maxQueues ?? 1;
    if (count < 1 || count > maxQueues) {
      throw new XenbusError('EPROTO', `${queuesPath} is ${count}, not 1 to ${maxQueues}`);
    }
    const orderPath = `${this.frontendPath}/ring-page-order`;
    const order = (await optional(orderPath)) ?? 0;
    const maxOrder = options.maxRingPageOrder ?? MAX_RING_ORDER;
    if (order > maxOrder) {
      throw new XenbusError('EPROTO', `${orderPath} is ${order}, above ${maxOrder}`);
    }
    const layout: QueueLayout[] = [];
    for (let q = 0; q < count; q++) {
      const dir = count > 1 ? `${this.frontendPath}/queue-${q}` : this.frontendPath;
      const refs: number[] = [];
      if (order === 0) {
        // One page: `ring-ref`, or `ring-ref0` from frontends that always number them (blkback
        // takes either).
        const single = (await optional(`${dir}/ring-ref`)) ?? (await optional(`${dir}/ring-ref0`));
        refs.push(single ?? (await readNumberKey(this.client, `${dir}/ring-ref`)));
      } else {
        for (let i = 0; i < 2 ** order; i++) {
          refs.push(await readNumberKey(this.client, `${dir}/ring-ref${i}`));
        }
      }
      layout.push({ dir, refs });
    }
    return layout;
  }

  /** Maps every queue's ring and binds its port; all or nothing. */
  async #attach(layout: readonly QueueLayout[]): Promise<DeviceQueue[]> {
    const ports: number[] = [];
    for (const { dir } of layout)
      ports.push(await readNumberKey(this.client, `${dir}/event-channel`));
    return setUpQueues(
      this.platform,
      layout.length,
      (i) => this.platform.mapGrants(this.frontendDomid, (layout[i] as QueueLayout).refs),
      (i) => this.platform.eventChannel.bindInterdomain(this.frontendDomid, ports[i] as number),
    );
  }
}
