import { EventEmitter } from 'node:events';
import { SringOffset } from '../ring/index.ts';
import {
  contiguousPages,
  type DeviceConnection,
  type DeviceEndOptions,
  isXenbusError,
  XenbusBackend,
  XenbusError,
} from '../xenbus/index.ts';
import { BackendQueue, type BlkbackStats, emptyStats } from './backend-queue.ts';
import { type BlockDisk, checkDisk } from './disk.ts';
import { BlockError, closeReason } from './errors.ts';
import {
  connectedKeys,
  DEFAULT_TRANSPORT_LIMITS,
  initWaitKeys,
  parseUnsigned,
  type TransportLimits,
} from './features.ts';
import { abiOfProtocol, type BlkifAbi } from './layout.ts';
import { GrantCache } from './persistent-grants.ts';

/** The xenbus device type of block devices. */
export const VBD_DEVICE_TYPE = 'vbd';

/** Options of {@link openBlkback}. */
export interface BlkbackOptions extends Omit<DeviceEndOptions, 'type'>, Partial<TransportLimits> {
  /** What to serve. */
  readonly disk: BlockDisk;
  /** The frontend's domain. */
  readonly frontendDomid: number;
  /** This domain's id (default: the platform's, else 0). */
  readonly domid?: number;
  /**
   * The backend's directory type (default `vbd`). A userspace backend in a domain whose kernel
   * has `xen-blkback` loaded uses a type of its own (e.g. `vbd-xenwire`, with the toolstack's
   * `backendType`), or the kernel claims the device first.
   */
  readonly type?: string;
  /**
   * Grants kept mapped per queue when the frontend reuses grants (default 1056, Linux's
   * `max_persistent_grants`).
   */
  readonly maxPersistentGrants?: number;
}

/** What was negotiated. */
export interface BlkbackConnection {
  /** The ABI of the rings (`protocol`). */
  readonly abi: BlkifAbi;
  /** Rings the frontend set up, each served by its own queue. */
  readonly queues: number;
  /** Pages per ring (`2^ring-page-order`). */
  readonly ringPages: number;
  /** Both ends keep grants mapped. */
  readonly persistent: boolean;
  /** The xenbus connection: rings and ports. */
  readonly device: DeviceConnection;
}

/** Events of a {@link Blkback}. */
export interface BlkbackEvents {
  /**
   * The device is closed and every grant the backend mapped is unmapped: after
   * {@link Blkback.close} (no reason), or because the frontend closed (`ECONNRESET`), died
   * (`ESRCH`) or broke blkif (`EPROTO`: its ring indexes, its keys).
   */
  closed: [reason: BlockError | undefined];
}

/** Linux's blkback keeps this many persistent grants per ring (`max_persistent_grants`). */
const DEFAULT_MAX_PERSISTENT_GRANTS = 1056;

/**
 * A block device backend: serves a {@link BlockDisk} to a frontend in another domain, on the
 * xenbus device API. Made by {@link openBlkback}, connected.
 */
export class Blkback extends EventEmitter<BlkbackEvents> {
  /** The xenbus device under the disk: its paths, state and the client it talks through. */
  readonly device: XenbusBackend;
  /** What is served: every request that passes the checks reaches it. */
  readonly disk: BlockDisk;
  /** Counters of what was served (all queues). */
  readonly stats: BlkbackStats = emptyStats();
  #connection: BlkbackConnection | undefined;
  #queues: BackendQueue[] = [];
  #grants: GrantCache[] = [];
  #reason: BlockError | undefined;
  #settled: Promise<void> | undefined;
  /** Resolves with the close's reason once the device is closed and every grant unmapped. */
  readonly closed: Promise<BlockError | undefined>;
  #markClosed: (reason: BlockError | undefined) => void = () => {};

  /** @internal use {@link openBlkback} */
  constructor(device: XenbusBackend, disk: BlockDisk) {
    super();
    this.device = device;
    this.disk = disk;
    this.closed = new Promise((resolve) => {
      this.#markClosed = resolve;
    });
    device.once('closed', (reason) => {
      this.#reason ??= reason && closeReason(reason);
      this.disconnect();
      void (this.#settled ?? Promise.resolve()).then(() => {
        this.#markClosed(this.#reason);
        this.emit('closed', this.#reason);
      });
    });
  }

  /** What was negotiated, while connected. */
  get connection(): BlkbackConnection | undefined {
    return this.#connection;
  }

  /** Grant pages mapped now for data (kept persistent grants and requests in flight). */
  get mappedGrants(): number {
    return this.#grants.reduce((n, cache) => n + cache.mapped, 0);
  }

  /** Requests being carried out now. */
  get inflight(): number {
    return this.#queues.reduce((n, queue) => n + queue.inflight, 0);
  }

  /**
   * Closes the device (Closing, the frontend's close awaited, rings unmapped, ports unbound,
   * Closed) and unmaps the data grants once the requests in flight have finished.
   */
  async close(): Promise<void> {
    await this.device.close().catch(() => {});
    await this.closed;
  }

  /** @internal starts serving, unless the device closed meanwhile */
  attach(connection: BlkbackConnection, queues: BackendQueue[], grants: GrantCache[]): void {
    if (this.#settled) return;
    this.#connection = connection;
    this.#queues = queues;
    this.#grants = grants;
    for (const queue of queues) queue.start();
  }

  /** @internal the device broke blkif: close it with that reason */
  fail(error: BlockError): void {
    this.#reason ??= error;
    this.device.close().catch(() => {});
  }

  /**
   * @internal the device is going: stops the queues before the rings go, and unmaps the data
   * pages once what the queues carry out has finished
   */
  disconnect(): void {
    if (this.#settled) return;
    const queues = this.#queues;
    const grants = this.#grants;
    this.#connection = undefined;
    this.#settled = Promise.all(queues.map((queue) => queue.stop())).then(() => {
      // Grants of a dead domain may be gone already; nothing more can be done about them.
      for (const cache of grants) cache.clear();
    });
  }
}

/**
 * Opens the backend of a block device the toolstack created (`createDevice`, or `xl`), waits
 * for the frontend and serves `disk` to it once connected. The backend advertises what Linux's
 * blkback does (indirect segments, several queues, multi-page rings, persistent grants), takes
 * whichever the frontend chose, checks every request before it reaches the disk, and answers
 * all of them.
 * @throws XenbusError from the handshake (`ETIMEDOUT`, `ECONNRESET`, `ESRCH`, …); BlockError
 *   `EPROTO` for a frontend whose `protocol` is unknown or whose rings hold more requests than
 *   fit; `EINVAL` for a bad disk
 */
export async function openBlkback(options: BlkbackOptions): Promise<Blkback> {
  const { disk } = options;
  checkDisk(disk);
  const limits: TransportLimits = { ...DEFAULT_TRANSPORT_LIMITS, ...definedOnly(options) };
  checkLimits(limits);
  const device = await XenbusBackend.open({
    ...options,
    type: options.type ?? VBD_DEVICE_TYPE,
    advertise: initWaitKeys(limits),
  });
  const backend = new Blkback(device, disk);
  const events = device.platform.eventChannel;
  let attached:
    | { connection: BlkbackConnection; queues: BackendQueue[]; grants: GrantCache[] }
    | undefined;
  const connection = await device.connect({
    // Called before the rings are unmapped: no queue may touch them after.
    onDisconnect: () => backend.disconnect(),
    maxQueues: limits.maxQueues,
    maxRingPageOrder: limits.maxRingPageOrder,
    connectedKeys: connectedKeys(disk, limits.persistent),
    accept: async (_ring, read, xenbus) => {
      const optional = (key: string) =>
        read(key).catch((error: unknown) => {
          if (isXenbusError(error, 'ENOENT')) return undefined;
          throw error;
        });
      const protocol = await optional('protocol');
      const abi = abiOfProtocol(protocol);
      if (!abi) throw new BlockError('EPROTO', `unknown protocol ${JSON.stringify(protocol)}`);
      const frontendPersistent = await optional('feature-persistent');
      const persistent =
        limits.persistent &&
        frontendPersistent !== undefined &&
        parseUnsigned(frontendPersistent, 'feature-persistent') !== 0;
      const blkLimits = {
        sectors: disk.sectors,
        sectorSize: disk.sectorSize,
        readOnly: disk.readOnly,
        flush: disk.flush !== undefined,
        discard: disk.discard !== undefined,
        maxIndirectSegments: limits.maxIndirectSegments,
      };
      const grants: GrantCache[] = [];
      const queues = xenbus.queues.map((queue) => {
        const area = contiguousPages(queue.ring);
        const words = new Uint32Array(area.buffer, area.byteOffset, 4);
        const rspProd = Atomics.load(words, SringOffset.rspProd >>> 2);
        const reqProd = Atomics.load(words, SringOffset.reqProd >>> 2);
        const ring = abi.ring.attachBack(
          area.buffer,
          { byteOffset: area.byteOffset, byteLength: area.byteLength },
          rspProd,
        );
        // Linux's xen_blkif_map: a ring handed over holding more requests than fit is refused.
        if ((reqProd - rspProd) >>> 0 > ring.size) {
          throw new XenbusError('EPROTO', `a ring holds ${(reqProd - rspProd) >>> 0} requests`);
        }
        const cache = new GrantCache(
          (refs, access) => device.platform.mapGrants(options.frontendDomid, refs, access),
          persistent ? (options.maxPersistentGrants ?? DEFAULT_MAX_PERSISTENT_GRANTS) : 0,
        );
        grants.push(cache);
        return new BackendQueue({
          abi,
          ring,
          events,
          port: queue.port,
          disk,
          limits: blkLimits,
          grants: cache,
          stats: backend.stats,
          onFatal: (error) => backend.fail(error),
        });
      });
      attached = {
        connection: {
          abi,
          queues: queues.length,
          ringPages: xenbus.ring.refs.length,
          persistent,
          device: xenbus,
        },
        queues,
        grants,
      };
    },
  });
  const { queues, grants } = attached as NonNullable<typeof attached>;
  backend.attach(
    { ...(attached as NonNullable<typeof attached>).connection, device: connection },
    queues,
    grants,
  );
  return backend;
}

/** The options' transport limits that were given. */
function definedOnly(options: Partial<TransportLimits>): Partial<TransportLimits> {
  const given: Partial<Record<keyof TransportLimits, number | boolean>> = {};
  for (const key of [
    'maxIndirectSegments',
    'maxQueues',
    'maxRingPageOrder',
    'persistent',
  ] as const) {
    if (options[key] !== undefined) given[key] = options[key];
  }
  return given as Partial<TransportLimits>;
}

function checkLimits(limits: TransportLimits): void {
  const bad = (what: string, value: number) =>
    new BlockError('EINVAL', `${what} ${value} is out of range`);
  const { maxIndirectSegments: segments, maxQueues, maxRingPageOrder } = limits;
  if (!Number.isInteger(segments) || segments < 0 || segments > 4096) {
    throw bad('maxIndirectSegments', segments);
  }
  if (!Number.isInteger(maxQueues) || maxQueues < 1 || maxQueues > 256) {
    throw bad('maxQueues', maxQueues);
  }
  if (!Number.isInteger(maxRingPageOrder) || maxRingPageOrder < 0 || maxRingPageOrder > 8) {
    throw bad('maxRingPageOrder', maxRingPageOrder);
  }
}
