import { EventEmitter } from 'node:events';
import { type FrontRing, XEN_PAGE_SIZE } from '../ring/index.ts';
import {
  contiguousPages,
  type DeviceEndOptions,
  type XenbusError,
  XenbusFrontend,
} from '../xenbus/index.ts';
import { VBD_DEVICE_TYPE } from './blkback.ts';
import {
  BlkifOp,
  BlkifProtocol,
  BlkifStatus,
  DEFAULT_MAX_INDIRECT_SEGMENTS,
  MAX_SEGMENTS_PER_REQUEST,
  SECTOR_SIZE,
  SEGMENTS_PER_INDIRECT_PAGE,
} from './constants.ts';
import { checkRange } from './disk.ts';
import { BlockError, closeReason } from './errors.ts';
import {
  type DiskDescription,
  frontendKeys,
  readDiskDescription,
  readTransportLimits,
} from './features.ts';
import { FrontendQueue } from './frontend-queue.ts';
import { GrantPool, type PooledPage } from './grant-pool.ts';
import { BLKIF_ABIS, type BlkifSegment, encodeSegments, indirectPagesFor } from './layout.ts';

/** Options of {@link openBlkfront}. */
export interface BlkfrontOptions extends Omit<DeviceEndOptions, 'type'> {
  /** This domain's id (default: the platform's, else the `domid` key of its home). */
  readonly domid?: number;
  /** The frontend's directory type (default `vbd`). */
  readonly type?: string;
  /** The ring layout of the requests (default `x86_64-abi`). */
  readonly protocol?: BlkifProtocol;
  /** Offer `feature-persistent` (default true; grants are reused either way). */
  readonly persistent?: boolean;
  /** Queues wanted, if the backend offers that many (default 1). */
  readonly queues?: number;
  /** Largest ring order wanted, if the backend offers it (default 0: one page). */
  readonly maxRingPageOrder?: number;
  /** Segments per indirect request wanted, if the backend offers them (default 256). */
  readonly maxIndirectSegments?: number;
  /**
   * Most pages granted for data (default 512; Linux's gntalloc lets a domain grant 1024 in all).
   */
  readonly maxGrants?: number;
  /** A request unanswered this long fails the device with `ETIMEDOUT` (default 30 s). */
  readonly requestTimeoutMs?: number;
}

/** The disk, and how the two ends talk about it. */
export interface BlkfrontInfo extends DiskDescription {
  /** The request layout both ends use. */
  readonly protocol: BlkifProtocol;
  /** Rings in use, each with its own event channel (`multi-queue-num-queues`, else 1). */
  readonly queues: number;
  /** Pages per ring (`2^ring-page-order`); each page holds 32 requests. */
  readonly ringPages: number;
  /** Segments in one request (11 without indirect requests). */
  readonly segmentsPerRequest: number;
}

/** Events of a {@link Blkfront}. */
export interface BlkfrontEvents {
  /**
   * The device is closed and its grants ended: after {@link Blkfront.close} (no reason), or
   * because the backend closed (`ECONNRESET`), died (`ESRCH`), broke blkif (`EPROTO`) or
   * stopped answering (`ETIMEDOUT`).
   */
  closed: [reason: BlockError | undefined];
}

function statusError(status: number, what: string): BlockError {
  return status === BlkifStatus.notSupported
    ? new BlockError('EOPNOTSUPP', `the backend does not support ${what}`)
    : new BlockError('EIO', `the backend failed ${what} (status ${status})`);
}

/**
 * A block device as a Node program sees it: `read`, `write`, `flush`, `discard` on a disk served
 * by a blkif backend in another domain (Linux's `xen-blkback`, QEMU's qdisk, or xenwire's own).
 * Made by {@link openBlkfront}, connected.
 *
 * Sectors are 512-byte units, as in blkif, whatever the disk's sector size; lengths are in bytes.
 * Large transfers are split into requests of {@link BlkfrontInfo.segmentsPerRequest} pages and
 * spread over the queues, as many in flight as the rings and the grant pool allow.
 */
export class Blkfront extends EventEmitter<BlkfrontEvents> {
  /** The xenbus device under the disk: its paths, state and the client it talks through. */
  readonly device: XenbusFrontend;
  /** What was negotiated with the backend and what it said about the disk, fixed once open. */
  readonly info: BlkfrontInfo;
  readonly #queues: FrontendQueue[];
  readonly #pool: GrantPool;
  #next = 0;
  readonly #ops = new Set<Promise<unknown>>();
  /** Why operations fail now that the device is failing or closing. */
  #failure: BlockError | undefined;
  /** Why the device closed, unless this end closed it. */
  #reason: BlockError | undefined;
  #closing: Promise<void> | undefined;

  /** @internal use {@link openBlkfront} */
  constructor(
    device: XenbusFrontend,
    info: BlkfrontInfo,
    queues: FrontendQueue[],
    pool: GrantPool,
  ) {
    super();
    this.device = device;
    this.info = info;
    this.#queues = queues;
    this.#pool = pool;
    device.once('closed', (reason) => {
      if (reason) this.#reason ??= closeReason(reason);
      this.#halt(this.#reason ?? new BlockError('ECONNRESET', 'the device is closed'));
      // The backend has let go of the grants (or is gone): they can end now.
      this.#pool.close(this.#failure as BlockError);
      this.emit('closed', this.#reason);
    });
  }

  /** Grant pages in the pool (for data and indirect segments). */
  get grantedPages(): number {
    return this.#pool.granted;
  }

  /**
   * Reads `length` bytes from sector `sector` on.
   * @throws BlockError `EINVAL` (range), `EIO`/`EOPNOTSUPP` (the backend's answer), or why the
   *   device closed
   */
  read(sector: number, length: number): Promise<Uint8Array> {
    return this.#track(async () => {
      this.#checkRange(sector, length);
      const data = new Uint8Array(length);
      await this.#readChunks(sector, data);
      return data;
    });
  }

  /**
   * Reads `target.byteLength` bytes from sector `sector` on into `target`, as `pread` does: no
   * buffer allocated per read (what a program reading a lot wants).
   * @throws BlockError as {@link read}; `target` may then hold part of the data
   */
  readInto(sector: number, target: Uint8Array): Promise<void> {
    return this.#track(async () => {
      this.#checkRange(sector, target.byteLength);
      await this.#readChunks(sector, target);
    });
  }

  async #readChunks(sector: number, target: Uint8Array): Promise<void> {
    await Promise.all(
      this.#chunks(sector, target.byteLength).map(({ sector: at, offset, bytes }) =>
        this.#transfer(BlkifOp.read, at, target.subarray(offset, offset + bytes)),
      ),
    );
  }

  /**
   * Writes `data` from sector `sector` on; resolves once the backend has answered (not
   * necessarily durable: {@link flush} makes it so).
   * @throws BlockError `EROFS`, `EINVAL`, `EIO`, or why the device closed
   */
  write(sector: number, data: Uint8Array): Promise<void> {
    return this.#track(async () => {
      this.#checkRange(sector, data.byteLength);
      if (this.info.readOnly) throw new BlockError('EROFS', 'the disk is read-only');
      await Promise.all(
        this.#chunks(sector, data.byteLength).map(({ sector: at, offset, bytes }) =>
          this.#transfer(BlkifOp.write, at, data.subarray(offset, offset + bytes)),
        ),
      );
    });
  }

  /**
   * Makes every write answered so far durable: `BLKIF_OP_FLUSH_DISKCACHE`, else a
   * `BLKIF_OP_WRITE_BARRIER`; a backend offering neither writes through, and this resolves at
   * once.
   */
  flush(): Promise<void> {
    return this.#track(async () => {
      const how = this.info.flush;
      if (!how) return;
      const op = how === 'flush' ? BlkifOp.flushDiskcache : BlkifOp.writeBarrier;
      const status = await this.#queue().submit(
        (id) => ({ op, id, handle: this.#handle, sector: 0, segmentCount: 0, segments: [] }),
        op,
      );
      if (status !== BlkifStatus.okay) throw statusError(status, 'flush');
    });
  }

  /**
   * Tells the backend `count` sectors from `sector` on are unused.
   * @throws BlockError `EOPNOTSUPP` when the backend offers no discard, `EROFS`, `EINVAL`, `EIO`
   */
  discard(sector: number, count: number): Promise<void> {
    return this.#track(async () => {
      this.#checkRange(sector, count * SECTOR_SIZE);
      if (!this.info.discard) throw new BlockError('EOPNOTSUPP', 'the backend offers no discard');
      if (this.info.readOnly) throw new BlockError('EROFS', 'the disk is read-only');
      const op = BlkifOp.discard;
      const status = await this.#queue().submit((id) => ({ op, id, flag: 0, sector, count }), op);
      if (status !== BlkifStatus.okay) throw statusError(status, 'discard');
    });
  }

  /**
   * Lets the operations in flight finish, then closes the device (Closing, the backend's close
   * awaited, rings and grants ended, Closed). Later operations fail with `ECONNRESET`.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#failure ??= new BlockError('ECONNRESET', 'the device was closed');
      await Promise.allSettled([...this.#ops]);
      await this.device.close().catch(() => {});
    })();
    return this.#closing;
  }

  /** @internal the backend broke blkif or stopped answering: fail everything, close */
  fail(error: BlockError): void {
    this.#reason ??= error;
    this.#halt(error);
    this.device.close().catch(() => {});
  }

  /** @internal the device is going away (the backend closed or died): fail what is in flight */
  disconnected(reason: XenbusError | undefined): void {
    if (reason) this.#reason ??= closeReason(reason);
    this.#halt(this.#reason ?? new BlockError('ECONNRESET', 'the device was closed'));
  }

  get #handle(): number {
    return Number(this.device.path.slice(this.device.path.lastIndexOf('/') + 1)) & 0xffff;
  }

  #halt(error: BlockError): void {
    this.#failure ??= error;
    for (const queue of this.#queues) queue.fail(this.#failure);
    this.#pool.abort(this.#failure);
  }

  #track<T>(run: () => Promise<T>): Promise<T> {
    if (this.#failure) return Promise.reject(this.#failure);
    const op = run();
    this.#ops.add(op);
    const done = () => this.#ops.delete(op);
    op.then(done, done);
    return op;
  }

  #queue(): FrontendQueue {
    const queue = this.#queues[this.#next % this.#queues.length] as FrontendQueue;
    this.#next++;
    return queue;
  }

  #checkRange(sector: number, bytes: number): void {
    const { sectors, sectorSize } = this.info;
    checkRange(sectors, sector, bytes);
    if (bytes <= 0 || bytes % sectorSize !== 0 || (sector * SECTOR_SIZE) % sectorSize !== 0) {
      throw new BlockError(
        'EINVAL',
        `${bytes} bytes at sector ${sector} are not whole ${sectorSize}-byte sectors`,
      );
    }
  }

  /** Splits a transfer into requests of at most a request's pages. */
  #chunks(sector: number, length: number) {
    const most = this.info.segmentsPerRequest * XEN_PAGE_SIZE;
    const chunks: { sector: number; offset: number; bytes: number }[] = [];
    for (let offset = 0; offset < length; offset += most) {
      chunks.push({
        sector: sector + offset / SECTOR_SIZE,
        offset,
        bytes: Math.min(most, length - offset),
      });
    }
    return chunks;
  }

  /** One request: data through pooled grant pages, segments in the slot or an indirect page. */
  async #transfer(
    op: typeof BlkifOp.read | typeof BlkifOp.write,
    sector: number,
    data: Uint8Array,
  ) {
    const count = Math.ceil(data.byteLength / XEN_PAGE_SIZE);
    const indirect = count > MAX_SEGMENTS_PER_REQUEST;
    const indirectCount = indirect ? indirectPagesFor(count) : 0;
    const pages = await this.#pool.take(count + indirectCount);
    try {
      const segments: BlkifSegment[] = [];
      for (let i = 0; i < count; i++) {
        const bytes = Math.min(XEN_PAGE_SIZE, data.byteLength - i * XEN_PAGE_SIZE);
        const page = pages[i] as PooledPage;
        if (op === BlkifOp.write)
          page.page.set(data.subarray(i * XEN_PAGE_SIZE, i * XEN_PAGE_SIZE + bytes));
        segments.push({ ref: page.ref, firstSect: 0, lastSect: bytes / SECTOR_SIZE - 1 });
      }
      const handle = this.#handle;
      const tables = pages.slice(count);
      for (const [i, table] of tables.entries()) {
        const from = i * SEGMENTS_PER_INDIRECT_PAGE;
        encodeSegments(table.page, 0, segments.slice(from, from + SEGMENTS_PER_INDIRECT_PAGE));
      }
      const status = await this.#queue().submit(
        (id) =>
          indirect
            ? {
                op: BlkifOp.indirect,
                indirectOp: op,
                id,
                handle,
                sector,
                segmentCount: count,
                indirectRefs: tables.map((table) => table.ref),
              }
            : { op, id, handle, sector, segmentCount: count, segments },
        op,
      );
      if (status !== BlkifStatus.okay)
        throw statusError(status, op === BlkifOp.read ? 'a read' : 'a write');
      if (op === BlkifOp.read) {
        for (let i = 0; i < count; i++) {
          const bytes = Math.min(XEN_PAGE_SIZE, data.byteLength - i * XEN_PAGE_SIZE);
          data.set((pages[i] as PooledPage).page.subarray(0, bytes), i * XEN_PAGE_SIZE);
        }
      }
    } finally {
      // After a failure the pool is closed and keeps nothing: the backend may still hold them.
      this.#pool.give(pages);
    }
  }
}

/**
 * Opens the frontend of a block device the toolstack created for this domain, negotiates with
 * the backend (ring pages, queues, ABI, persistent grants, indirect segments) and resolves once
 * the disk is usable.
 * @throws XenbusError from the handshake (`ETIMEDOUT`, `ECONNRESET`, `ESRCH`, …); BlockError
 *   `EPROTO` when the backend describes the disk badly
 */
export async function openBlkfront(options: BlkfrontOptions): Promise<Blkfront> {
  const abi = BLKIF_ABIS[options.protocol ?? BlkifProtocol.x86_64];
  if (!abi) throw new BlockError('EINVAL', `unknown protocol ${options.protocol}`);
  const persistent = options.persistent ?? true;
  const device = await XenbusFrontend.open({ ...options, type: options.type ?? VBD_DEVICE_TYPE });
  const peer = device.platform;
  let blkfront: Blkfront | undefined;
  const rings: FrontRing[] = [];
  const connection = await device.connect({
    negotiate: async (read) => {
      const limits = await readTransportLimits(read);
      return {
        ringPages: 2 ** Math.min(limits.maxRingPageOrder, options.maxRingPageOrder ?? 0),
        queues: Math.min(limits.maxQueues, options.queues ?? 1),
      };
    },
    prepare: (_ring, _port, connection) => {
      for (const queue of connection.queues) {
        const area = contiguousPages(queue.ring);
        rings.push(
          abi.ring.initFront(area.buffer, {
            byteOffset: area.byteOffset,
            byteLength: area.byteLength,
          }),
        );
      }
      return frontendKeys(abi.protocol, persistent);
    },
    onDisconnect: (reason) => blkfront?.disconnected(reason),
  });
  // Until the Blkfront exists, a close is noticed here.
  let closedEarly: XenbusError | undefined | null = null;
  const early = (reason: XenbusError | undefined) => {
    closedEarly = reason;
  };
  device.once('closed', early);
  let description: DiskDescription;
  try {
    description = await readDiskDescription((key) =>
      device.client.readString(`${device.backendPath}/${key}`).catch(() => undefined),
    );
  } catch (error) {
    await device.close().catch(() => {});
    throw error;
  }
  const maxGrants = options.maxGrants ?? 512;
  if (!Number.isInteger(maxGrants) || maxGrants < 2) {
    await device.close().catch(() => {});
    throw new BlockError('EINVAL', `maxGrants ${maxGrants} is below 2`);
  }
  const pool = new GrantPool((count) => peer.grantPages(device.backendDomid, count), maxGrants);
  const wanted = options.maxIndirectSegments ?? DEFAULT_MAX_INDIRECT_SEGMENTS;
  const indirect = Math.min(description.maxIndirectSegments, wanted);
  const segmentsPerRequest = Math.min(
    Math.max(indirect, MAX_SEGMENTS_PER_REQUEST),
    pool.limit - indirectPagesFor(indirect),
  );
  device.off('closed', early);
  if (closedEarly !== null) throw closeReason(closedEarly);
  const queues = connection.queues.map((queue, i) => {
    return new FrontendQueue({
      abi,
      ring: rings[i] as FrontRing,
      events: peer.eventChannel,
      port: queue.port,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      onFatal: (error) => blkfront?.fail(error),
    });
  });
  blkfront = new Blkfront(
    device,
    {
      ...description,
      protocol: abi.protocol,
      queues: queues.length,
      ringPages: connection.ring.refs.length,
      segmentsPerRequest,
    },
    queues,
    pool,
  );
  for (const queue of queues) queue.start();
  return blkfront;
}
