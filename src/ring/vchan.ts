import { ByteRing } from './byte-ring.ts';
import { RingError } from './errors.ts';
import { RingArea, type RingBuffer, XEN_PAGE_SIZE } from './memory.ts';
import type { Notify } from './notify.ts';

/**
 * The libxenvchan shared page, `struct vchan_interface` (`xen/include/public/io/libxenvchan.h`):
 * two byte rings — `left` written by the client and read by the server, `right` the reverse —
 * whose data lives inside the page for orders 10 and 11 (at offsets 1024 and 2048) and in
 * `2^(order-12)` separately granted pages from order 12 up.
 *
 * Unlike the xenstore page, vchan asks for wake-ups explicitly: an end about to wait sets a bit
 * in the peer's notify byte (NOTIFY_WRITE: "tell me when you write", NOTIFY_READ: "tell me when
 * you read"), and the peer, after moving its index, clears the bit and notifies only if it was
 * set (`tools/libs/vchan/io.c`).
 */

export const VchanOffset = {
  /** u32 `left.cons`: the server's read index into the left ring (client → server). */
  leftCons: 0,
  /** u32 `left.prod`: the client's write index into the left ring. */
  leftProd: 4,
  /** u32 `right.cons`: the client's read index into the right ring (server → client). */
  rightCons: 8,
  /** u32 `right.prod`: the server's write index into the right ring. */
  rightProd: 12,
  /** u16 `left_order`: log2 of the left ring's size in bytes. */
  leftOrder: 16,
  /** u16 `right_order`: log2 of the right ring's size in bytes. */
  rightOrder: 18,
  /** u8 `cli_live`: the client's {@link VchanLive} state. */
  cliLive: 20,
  /** u8 `srv_live`: the server's {@link VchanLive} state. */
  srvLive: 21,
  /** u8 `cli_notify`: bits of {@link VchanNotify}, the server's requests to the client. */
  cliNotify: 22,
  /** u8 `srv_notify`: bits of {@link VchanNotify}, the client's requests to the server. */
  srvNotify: 23,
  /** u32 grant references of the data pages, left ring's first. */
  grants: 24,
} as const;

/** Bits of the notify bytes. */
export const VchanNotify = {
  /** Notify me when you write (I am waiting for data). */
  WRITE: 1,
  /** Notify me when you read (I am waiting for room). */
  READ: 2,
} as const;

/** Values of `cli_live` / `srv_live`. */
export const VchanLive = {
  /** That end has closed; the other reads what is left, then sees end of stream. */
  EXITED: 0,
  /** That end is attached and using the rings. */
  CONNECTED: 1,
  /** The client has not connected yet (the server's initial value for `cli_live`). */
  NOT_YET: 2,
} as const;

/** Smallest ring order: 1 KiB inside the shared page. */
export const VCHAN_MIN_ORDER = 10;
/** Largest ring order: 2^20 bytes of granted pages, as libxenvchan allows. */
export const VCHAN_MAX_ORDER = 20;
const MIN_ORDER = VCHAN_MIN_ORDER;
const MAX_ORDER = VCHAN_MAX_ORDER;
/** Where an in-page ring's data starts, by order. */
const IN_PAGE_DATA: Readonly<Record<number, number>> = { 10: 1024, 11: 2048 };

/** Data pages a ring of `order` needs besides the shared page: none below order 12. */
export function vchanDataPages(order: number): number {
  return order < 12 ? 0 : 2 ** (order - 12);
}

/** Grant references of the data pages listed in a vchan page, per ring. */
export interface VchanGrants {
  /** The left ring's (client → server). */
  readonly left: readonly number[];
  /** The right ring's (server → client). */
  readonly right: readonly number[];
}

/** The ring orders of a vchan: 2^order bytes each way. */
export interface VchanOrders {
  /** Client → server. */
  readonly left: number;
  /** Server → client. */
  readonly right: number;
}

function pageView(page: RingBuffer, byteOffset: number): DataView {
  const { bytes } = new RingArea(page, byteOffset, XEN_PAGE_SIZE, 'vchan');
  return new DataView(bytes.buffer, bytes.byteOffset, XEN_PAGE_SIZE);
}

/** Where the grant list of a page with these orders must end: at an in-page ring, or the page's end. */
function grantListLimit(leftOrder: number, rightOrder: number): number {
  return Math.min(
    XEN_PAGE_SIZE,
    IN_PAGE_DATA[leftOrder] ?? XEN_PAGE_SIZE,
    IN_PAGE_DATA[rightOrder] ?? XEN_PAGE_SIZE,
  );
}

/**
 * Reads the ring orders and the grant list of a page laid out by a server, as a client does
 * before mapping the data pages (left ring's grants first). Refuses, with `EPROTO`, what
 * libxenvchan's client would take on trust: orders out of range, two in-page rings of one order,
 * or a list that runs into an in-page ring.
 */
export function readVchanGrants(
  page: RingBuffer,
  byteOffset = 0,
): VchanGrants & {
  /** The two rings' orders. */
  readonly orders: VchanOrders;
} {
  const view = pageView(page, byteOffset);
  const left = view.getUint16(VchanOffset.leftOrder, true);
  const right = view.getUint16(VchanOffset.rightOrder, true);
  for (const order of [left, right]) {
    if (order < MIN_ORDER || order > MAX_ORDER) {
      throw new RingError(
        'EPROTO',
        `vchan: ring order ${order} is outside ${MIN_ORDER}..${MAX_ORDER}`,
      );
    }
  }
  if (left === right && left < 12) {
    throw new RingError('EPROTO', `vchan: both rings are of order ${left}, inside one page`);
  }
  const count = vchanDataPages(left) + vchanDataPages(right);
  if (VchanOffset.grants + 4 * count > grantListLimit(left, right)) {
    throw new RingError(
      'EPROTO',
      `vchan: ${count} grants of orders ${left}/${right} overlap a ring`,
    );
  }
  const refs = Array.from({ length: count }, (_, i) =>
    view.getUint32(VchanOffset.grants + 4 * i, true),
  );
  const split = vchanDataPages(left);
  return { orders: { left, right }, left: refs.slice(0, split), right: refs.slice(split) };
}

/** Server: lists the data pages' grants in its page, after {@link Vchan.initServer}. */
export function writeVchanGrants(page: RingBuffer, grants: VchanGrants, byteOffset = 0): void {
  const view = pageView(page, byteOffset);
  const left = view.getUint16(VchanOffset.leftOrder, true);
  const right = view.getUint16(VchanOffset.rightOrder, true);
  if (
    grants.left.length !== vchanDataPages(left) ||
    grants.right.length !== vchanDataPages(right)
  ) {
    throw new RingError(
      'EINVAL',
      `vchan: orders ${left}/${right} take ${vchanDataPages(left)}+${vchanDataPages(right)} grants`,
    );
  }
  const refs = [...grants.left, ...grants.right];
  if (VchanOffset.grants + 4 * refs.length > grantListLimit(left, right)) {
    throw new RingError(
      'EINVAL',
      `vchan: ${refs.length} grants of orders ${left}/${right} overlap a ring`,
    );
  }
  for (const [i, ref] of refs.entries()) view.setUint32(VchanOffset.grants + 4 * i, ref, true);
}

/** Where one ring's data is when its order is 12 or more (separately granted pages). */
export interface VchanData {
  /** The memory the granted data pages are mapped into. */
  readonly buffer: RingBuffer;
  /** Where the ring's data starts in `buffer` (default 0; a multiple of 4). */
  readonly byteOffset?: number;
}

/** Where a {@link Vchan} finds its page and data, and how it wakes its peer. */
export interface VchanOptions {
  /** Where the shared page starts in its buffer (default 0). */
  readonly byteOffset?: number;
  /** Data of the left ring (client → server) when its order is ≥ 12. */
  readonly left?: VchanData;
  /** Data of the right ring (server → client) when its order is ≥ 12. */
  readonly right?: VchanData;
  /** Wakes the peer (the vchan's event channel). */
  readonly notify?: Notify;
}

/** The memory of a {@link Vchan}, for code that moves its bytes outside JavaScript. */
export interface VchanMemory {
  /** The 4096-byte shared page. */
  readonly page: Uint8Array;
  /** The left ring's data (client → server): in the page below order 12. */
  readonly left: Uint8Array;
  /** The right ring's data (server → client). */
  readonly right: Uint8Array;
}

/** One end of a vchan. The client writes `left` and reads `right`; the server the reverse. */
export class Vchan {
  /** Client → server. */
  readonly left: ByteRing;
  /** Server → client. */
  readonly right: ByteRing;
  /** Where the page and both rings' data are. */
  readonly memory: VchanMemory;
  private readonly bytes: Uint8Array;
  private readonly tx: ByteRing;
  private readonly rx: ByteRing;
  /** Where the peer asks this end for wake-ups, and where this end asks the peer. */
  private readonly myRequests: number;
  private readonly peerRequests: number;
  private readonly notify: Notify | undefined;

  constructor(
    /** Which end this is: the client writes `left`, the server writes `right`. */
    readonly role: 'server' | 'client',
    page: RingBuffer,
    options: VchanOptions = {},
  ) {
    if (role !== 'server' && role !== 'client') {
      throw new RingError('EINVAL', `vchan: role must be 'server' or 'client'`);
    }
    const area = new RingArea(page, options.byteOffset ?? 0, XEN_PAGE_SIZE, 'vchan');
    const view = new DataView(area.bytes.buffer, area.bytes.byteOffset, XEN_PAGE_SIZE);
    const leftOrder = view.getUint16(VchanOffset.leftOrder, true);
    const rightOrder = view.getUint16(VchanOffset.rightOrder, true);
    if (leftOrder === rightOrder && leftOrder < 12) {
      throw new RingError('EINVAL', `vchan: both rings cannot be of order ${leftOrder}`);
    }
    this.bytes = area.bytes;
    const left = ring(area, 'vchan.left', VchanOffset.leftCons, leftOrder, options.left);
    const right = ring(area, 'vchan.right', VchanOffset.rightCons, rightOrder, options.right);
    this.left = left.ring;
    this.right = right.ring;
    this.memory = { page: area.bytes, left: left.data, right: right.data };
    const server = role === 'server';
    this.tx = server ? this.right : this.left;
    this.rx = server ? this.left : this.right;
    this.myRequests = server ? VchanOffset.srvNotify : VchanOffset.cliNotify;
    this.peerRequests = server ? VchanOffset.cliNotify : VchanOffset.srvNotify;
    this.notify = options.notify;
  }

  /**
   * Server: lays out a fresh page as libxenvchan's server does — all zero, then the two orders,
   * server live, client not yet connected, and the server asking to be told of the client's
   * writes — and returns the server end. The grant list comes after ({@link writeVchanGrants}).
   */
  static initServer(page: RingBuffer, orders: VchanOrders, options: VchanOptions = {}): Vchan {
    for (const order of [orders.left, orders.right]) {
      if (!Number.isInteger(order) || order < MIN_ORDER || order > MAX_ORDER) {
        throw new RingError(
          'EINVAL',
          `vchan: ring order ${order} is outside ${MIN_ORDER}..${MAX_ORDER}`,
        );
      }
    }
    const area = new RingArea(page, options.byteOffset ?? 0, XEN_PAGE_SIZE, 'vchan');
    area.bytes.fill(0);
    const view = new DataView(area.bytes.buffer, area.bytes.byteOffset, XEN_PAGE_SIZE);
    view.setUint16(VchanOffset.leftOrder, orders.left, true);
    view.setUint16(VchanOffset.rightOrder, orders.right, true);
    area.bytes[VchanOffset.cliLive] = VchanLive.NOT_YET;
    area.bytes[VchanOffset.srvLive] = VchanLive.CONNECTED;
    area.bytes[VchanOffset.cliNotify] = VchanNotify.WRITE;
    return new Vchan('server', page, options);
  }

  /**
   * Client: marks itself connected, asks to be told of the server's writes, and tells the
   * server, as `libxenvchan_client_init` does.
   */
  connect(): void {
    Atomics.store(this.bytes, VchanOffset.cliLive, VchanLive.CONNECTED);
    Atomics.store(this.bytes, VchanOffset.srvNotify, VchanNotify.WRITE);
    this.notify?.();
  }

  /** This end's own live byte ({@link VchanLive}). */
  get live(): number {
    return Atomics.load(
      this.bytes,
      this.role === 'server' ? VchanOffset.srvLive : VchanOffset.cliLive,
    );
  }

  /** Marks this end gone and wakes the peer, which sees {@link peerLive} drop to EXITED. */
  close(): void {
    this.setLive(VchanLive.EXITED);
  }

  /** The peer's live byte ({@link VchanLive}). */
  get peerLive(): number {
    return Atomics.load(
      this.bytes,
      this.role === 'server' ? VchanOffset.cliLive : VchanOffset.srvLive,
    );
  }

  /**
   * Bytes waiting to be read. Asks the peer to notify on its next write, as
   * `libxenvchan_data_ready` does, since the caller will act on the figure later.
   */
  dataReady(): number {
    this.request(VchanNotify.WRITE);
    return this.rx.used();
  }

  /** Room to write. Asks the peer to notify on its next read (`libxenvchan_buffer_space`). */
  bufferSpace(): number {
    this.request(VchanNotify.READ);
    return this.tx.free();
  }

  /**
   * Writes as much of `src` as fits (`libxenvchan_write`, non-blocking). When not all of it fits,
   * first asks the peer to notify when it reads, so that a caller then waiting on the event
   * channel is woken once there is room.
   */
  write(src: Uint8Array): number {
    if (this.tx.free() < src.length) {
      this.request(VchanNotify.READ);
    }
    const n = this.tx.write(src);
    if (n > 0) this.answer(VchanNotify.WRITE);
    return n;
  }

  /**
   * Reads up to `dst.length` bytes (`libxenvchan_read`, non-blocking). When fewer are waiting,
   * first asks the peer to notify when it writes.
   */
  read(dst: Uint8Array): number {
    if (this.rx.used() < dst.length) {
      this.request(VchanNotify.WRITE);
    }
    const n = this.rx.read(dst);
    if (n > 0) this.answer(VchanNotify.READ);
    return n;
  }

  /** Sets `bit` in the peer's notify byte: the atomic or of `request_notify`. */
  private request(bit: number): void {
    Atomics.or(this.bytes, this.peerRequests, bit);
  }

  /** Clears `bit` of this end's notify byte and notifies if the peer had set it (`send_notify`). */
  private answer(bit: number): void {
    if ((Atomics.and(this.bytes, this.myRequests, ~bit & 0xff) & bit) !== 0) this.notify?.();
  }

  private setLive(state: number): void {
    Atomics.store(
      this.bytes,
      this.role === 'server' ? VchanOffset.srvLive : VchanOffset.cliLive,
      state,
    );
    this.notify?.();
  }
}

function ring(
  area: RingArea,
  name: string,
  cons: number,
  order: number,
  external: VchanData | undefined,
): { ring: ByteRing; data: Uint8Array } {
  if (order < MIN_ORDER || order > MAX_ORDER) {
    throw new RingError(
      'EINVAL',
      `${name}: ring order ${order} is outside ${MIN_ORDER}..${MAX_ORDER}`,
    );
  }
  const size = 2 ** order;
  const layout = { name, cons, prod: cons + 4, size, data: order === 10 ? 1024 : 2048 };
  if (order < 12) {
    const data = area.bytes.subarray(layout.data, layout.data + size);
    return { ring: new ByteRing(area, layout), data };
  }
  if (external === undefined) {
    throw new RingError('EINVAL', `${name}: a ring of order ${order} needs its data pages`);
  }
  const data = new RingArea(external.buffer, external.byteOffset ?? 0, size, name);
  return {
    ring: new ByteRing(area, { ...layout, data: 0 }, data),
    data: data.bytes.subarray(0, size),
  };
}
