import { ByteRing, type ByteRingLayout } from './byte-ring.ts';
import { RingError } from './errors.ts';
import { RingArea, type RingBuffer, XEN_PAGE_SIZE } from './memory.ts';
import type { Notify } from './notify.ts';
import { ByteRingEnd } from './ring-end.ts';

/**
 * The PV console page, `struct xencons_interface` (`xen/include/public/io/console.h`):
 * `in[1024]` carries bytes to the guest, `out[2048]` bytes from it, then four u32 indices and,
 * since Xen 4.21, a `connection` byte.
 */
export const XenconsOffset = {
  /** `in[1024]`: bytes from the backend to the guest (keyboard input). */
  in: 0,
  /** `out[2048]`: bytes from the guest to the backend (console output). */
  out: 1024,
  /** u32 `in_cons`, advanced by the guest as it reads `in`. */
  inCons: 3072,
  /** u32 `in_prod`, advanced by the backend as it writes `in`. */
  inProd: 3076,
  /** u32 `out_cons`, advanced by the backend as it reads `out`. */
  outCons: 3080,
  /** u32 `out_prod`, advanced by the guest as it writes `out`. */
  outProd: 3084,
  /** u8: {@link XenconsConnection}. */
  connection: 3088,
} as const;

/** Values of the console's `connection` byte. */
export const XenconsConnection = {
  /** The backend services the ring (and what a zeroed page from an older toolstack reads as). */
  CONNECTED: 0,
  /** Set by the toolstack when building the domain; the backend clears it when it attaches. */
  DISCONNECTED: 1,
} as const;

/**
 * The console's `in` direction (backend → guest) as a {@link ByteRingLayout}, for building a
 * {@link ByteRing} over a console page directly instead of through {@link ConsoleRing}.
 */
export const XENCONS_IN_LAYOUT: ByteRingLayout = {
  name: 'xencons.in',
  data: XenconsOffset.in,
  size: 1024,
  cons: XenconsOffset.inCons,
  prod: XenconsOffset.inProd,
};

/** The console's `out` direction (guest → backend) as a {@link ByteRingLayout}. */
export const XENCONS_OUT_LAYOUT: ByteRingLayout = {
  name: 'xencons.out',
  data: XenconsOffset.out,
  size: 2048,
  cons: XenconsOffset.outCons,
  prod: XenconsOffset.outProd,
};

/** How a {@link ConsoleRing} finds its page in the buffer and wakes its peer. */
export interface ConsoleRingOptions {
  /** Where the page starts in the buffer (default 0; a multiple of 4). */
  readonly byteOffset?: number;
  /** Wakes the peer; called after a `write` or `read` it may be waiting for. */
  readonly notify?: Notify;
}

/**
 * One end of a console page. The guest writes `out` and reads `in`; the backend (a console
 * daemon) reads `out` and writes `in`.
 */
export class ConsoleRing extends ByteRingEnd {
  /** Backend → guest (keyboard input). */
  readonly input: ByteRing;
  /** Guest → backend (console output). */
  readonly output: ByteRing;
  private readonly bytes: Uint8Array;

  /**
   * @param buffer the memory holding the console page (4096 bytes from `options.byteOffset`)
   * @throws {@link RingError} `EINVAL` for an unknown role or a buffer too small for the page
   */
  constructor(
    /** Which end this is: it decides which direction `write` and `read` use. */
    readonly role: 'guest' | 'backend',
    buffer: RingBuffer,
    options: ConsoleRingOptions = {},
  ) {
    if (role !== 'guest' && role !== 'backend') {
      throw new RingError('EINVAL', `console ring: role must be 'guest' or 'backend'`);
    }
    const area = new RingArea(buffer, options.byteOffset ?? 0, XEN_PAGE_SIZE, 'console ring');
    const input = new ByteRing(area, XENCONS_IN_LAYOUT);
    const output = new ByteRing(area, XENCONS_OUT_LAYOUT);
    super(role === 'guest' ? output : input, role === 'guest' ? input : output, options.notify);
    this.input = input;
    this.output = output;
    this.bytes = area.bytes;
  }

  /** The `connection` byte: {@link XenconsConnection}. */
  get connection(): number {
    return Atomics.load(this.bytes, XenconsOffset.connection);
  }

  /**
   * Backend: marks the console as serviced (or not). The toolstack sets DISCONNECTED when it
   * builds the page; the backend sets CONNECTED once it reads the ring.
   */
  setConnection(state: number): void {
    if (this.role !== 'backend') {
      throw new RingError('EPERM', 'console ring: only the backend sets the connection state');
    }
    Atomics.store(this.bytes, XenconsOffset.connection, state);
  }

  /**
   * Sends bytes to the peer; returns how many fitted. A guest whose backend has not connected
   * gets `ENOTCONN` (nothing would drain the ring), as Linux's `hvc_xen` does.
   */
  override write(src: Uint8Array): number {
    if (this.role === 'guest' && this.connection === XenconsConnection.DISCONNECTED) {
      throw new RingError('ENOTCONN', 'console ring: the backend has not connected');
    }
    return super.write(src);
  }
}
