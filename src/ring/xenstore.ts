import { ByteRing, type ByteRingLayout } from './byte-ring.ts';
import { RingError, RingIndexError } from './errors.ts';
import { RingArea, type RingBuffer, XEN_PAGE_SIZE } from './memory.ts';
import type { Notify } from './notify.ts';
import { ByteRingEnd } from './ring-end.ts';

/**
 * The xenstore ring page, `struct xenstore_domain_interface` (`xen/include/public/io/xs_wire.h`,
 * `docs/misc/xenstore-ring.txt`): one page shared by a guest and xenstored.
 */

/** Bytes in each direction (`XENSTORE_RING_SIZE`). */
export const XENSTORE_RING_SIZE = 1024;

/** Byte offsets of the fields of `struct xenstore_domain_interface`. */
export const XenstoreOffset = {
  /** `req[1024]`: request bytes, guest → server. */
  req: 0,
  /** `rsp[1024]`: reply and watch-event bytes, server → guest. */
  rsp: 1024,
  /** u32 `req_cons`, advanced by the server as it reads requests. */
  reqCons: 2048,
  /** u32 `req_prod`, advanced by the guest as it writes requests. */
  reqProd: 2052,
  /** u32 `rsp_cons`, advanced by the guest as it reads responses. */
  rspCons: 2056,
  /** u32 `rsp_prod`, advanced by the server as it writes responses. */
  rspProd: 2060,
  /** u32 `server_features`: bits of {@link XenstoreFeature}, written by the server. */
  serverFeatures: 2064,
  /** u32 `connection`: {@link XenstoreConnectionState}. */
  connection: 2068,
  /** u32 `error`: {@link XenstoreErrorIndicator}. */
  error: 2072,
  /** Dom0less: the event channel to use when non-zero (added to the page in 2025; 0 before). */
  evtchnPort: 2076,
} as const;

/** Bits of `server_features`. */
export const XenstoreFeature = {
  /** The `connection` field and the reconnection handshake are supported. */
  RECONNECTION: 1,
  /** The `error` field is maintained. */
  ERROR: 2,
  /** WATCH accepts a depth argument. */
  WATCHDEPTH: 4,
  /** Permission entries may name DOMID_ANY. */
  DOMID_ANY: 8,
} as const;

/** Values of `connection`. */
export const XenstoreConnectionState = {
  /** The ring is in use (and what a page from a server without the feature reads as). */
  CONNECTED: 0,
  /** Set by the guest to ask for a reset; cleared by the server when done. */
  RECONNECT: 1,
} as const;

/** Values of `error`. */
export const XenstoreErrorIndicator = {
  /** The ring is healthy. */
  NONE: 0,
  /** An unspecified communication error. */
  COMM: 1,
  /** The indices were inconsistent (`prod - cons > XENSTORE_RING_SIZE`). */
  RINGIDX: 2,
  /** Protocol violation: a message announcing a payload over 4096 bytes (`XENSTORE_PAYLOAD_MAX`). */
  PROTO: 3,
} as const;

/**
 * The request direction of the page as a {@link ByteRingLayout}, for driving a {@link ByteRing}
 * over a xenstore page directly instead of through {@link XenstoreRing}.
 */
export const XENSTORE_REQ_LAYOUT: ByteRingLayout = {
  name: 'xenstore.req',
  data: XenstoreOffset.req,
  size: XENSTORE_RING_SIZE,
  cons: XenstoreOffset.reqCons,
  prod: XenstoreOffset.reqProd,
};

/** The response direction of the page as a {@link ByteRingLayout}. */
export const XENSTORE_RSP_LAYOUT: ByteRingLayout = {
  name: 'xenstore.rsp',
  data: XenstoreOffset.rsp,
  size: XENSTORE_RING_SIZE,
  cons: XenstoreOffset.rspCons,
  prod: XenstoreOffset.rspProd,
};

/** Which end of the page this is. */
export type XenstoreRole = 'guest' | 'server';

/** Where a {@link XenstoreRing} finds its page in the buffer, and how it wakes its peer. */
export interface XenstoreRingOptions {
  /** Where the page starts in the buffer (default 0; a multiple of 4). */
  readonly byteOffset?: number;
  /**
   * Wakes the peer (an event channel, or {@link AtomicsEvent} between threads); called after a
   * `write` or `read` that the peer may be waiting for.
   */
  readonly notify?: Notify;
}

/**
 * One end of a xenstore ring page. The guest writes requests and reads responses; the server
 * reads requests and writes responses (replies and watch events). Both directions are byte
 * streams: `write` and `read` move what fits and return the count, so a message longer than the
 * free space goes over several calls.
 */
export class XenstoreRing extends ByteRingEnd {
  /** Guest → server. */
  readonly requests: ByteRing;
  /** Server → guest. */
  readonly responses: ByteRing;
  private readonly area: RingArea;

  constructor(
    /** Which end this is: it decides which direction `write` and `read` use. */
    readonly role: XenstoreRole,
    buffer: RingBuffer,
    options: XenstoreRingOptions = {},
  ) {
    if (role !== 'guest' && role !== 'server') {
      throw new RingError('EINVAL', `xenstore ring: role must be 'guest' or 'server'`);
    }
    const area = new RingArea(buffer, options.byteOffset ?? 0, XEN_PAGE_SIZE, 'xenstore ring');
    const requests = new ByteRing(area, XENSTORE_REQ_LAYOUT);
    const responses = new ByteRing(area, XENSTORE_RSP_LAYOUT);
    const guest = role === 'guest';
    super(guest ? requests : responses, guest ? responses : requests, options.notify);
    this.area = area;
    this.requests = requests;
    this.responses = responses;
  }

  /**
   * Server: lays out a fresh page — indices 0, connected, no error — advertising `features`
   * (bits of {@link XenstoreFeature}).
   */
  static initialise(
    buffer: RingBuffer,
    features: number,
    options: XenstoreRingOptions = {},
  ): XenstoreRing {
    const ring = new XenstoreRing('server', buffer, options);
    ring.requests.reset();
    ring.responses.reset();
    ring.area.store(XenstoreOffset.serverFeatures, features);
    ring.area.store(XenstoreOffset.error, XenstoreErrorIndicator.NONE);
    ring.area.store(XenstoreOffset.connection, XenstoreConnectionState.CONNECTED);
    return ring;
  }

  /** `server_features` now: bits of {@link XenstoreFeature}; see {@link hasFeature}. */
  get serverFeatures(): number {
    return this.area.load(XenstoreOffset.serverFeatures);
  }

  /** True if the server advertises every bit of `feature`. */
  hasFeature(feature: number): boolean {
    return (this.serverFeatures & feature) === feature;
  }

  /** `connection`: {@link XenstoreConnectionState}. */
  get connection(): number {
    return this.area.load(XenstoreOffset.connection);
  }

  /** `error`: {@link XenstoreErrorIndicator}; non-zero means the ring is unusable until reconnected. */
  get error(): number {
    return this.area.load(XenstoreOffset.error);
  }

  /** The event channel named by the page (dom0less), or 0 when the page names none. */
  get evtchnPort(): number {
    return this.area.load(XenstoreOffset.evtchnPort);
  }

  /** True while a reconnection asked for by the guest has not been completed by the server. */
  get reconnecting(): boolean {
    return this.connection === XenstoreConnectionState.RECONNECT;
  }

  /**
   * Guest: asks the server to reset the page. The guest must have no request in flight; it
   * notifies the server and waits until {@link reconnecting} is false, then starts afresh.
   * Requires the RECONNECTION feature (`ENOTCONN` otherwise).
   */
  requestReconnect(): void {
    this.requireRole('guest', 'requestReconnect');
    if (!this.hasFeature(XenstoreFeature.RECONNECTION)) {
      throw new RingError('ENOTCONN', 'xenstore ring: the server does not support reconnection');
    }
    this.area.store(XenstoreOffset.connection, XenstoreConnectionState.RECONNECT);
    this.wake();
  }

  /**
   * Server: completes a reconnection, having dropped the guest's watches and transactions:
   * empties both rings, clears `error`, and only then marks the page connected, so the guest
   * never sees `connected` with stale indices. Notifies the guest.
   */
  completeReconnect(): void {
    this.requireRole('server', 'completeReconnect');
    this.requests.reset();
    this.responses.reset();
    this.area.store(XenstoreOffset.error, XenstoreErrorIndicator.NONE);
    this.area.store(XenstoreOffset.connection, XenstoreConnectionState.CONNECTED);
    this.wake();
  }

  /**
   * Server: records a fatal error (`XenstoreErrorIndicator`) in the page, if the ERROR feature is
   * advertised; the guest can only recover by reconnecting.
   */
  setError(code: number): void {
    this.requireRole('server', 'setError');
    this.fail(code);
  }

  /** A corrupt index found by the server is recorded in the page before the error goes up. */
  protected override failed(e: unknown): unknown {
    if (e instanceof RingIndexError) this.fail(XenstoreErrorIndicator.RINGIDX);
    return e;
  }

  private fail(code: number): void {
    if (this.role === 'server' && this.hasFeature(XenstoreFeature.ERROR)) {
      this.area.store(XenstoreOffset.error, code);
    }
  }

  private requireRole(role: XenstoreRole, what: string): void {
    if (this.role !== role) {
      throw new RingError('EPERM', `xenstore ring: ${what} is for the ${role} end`);
    }
  }
}
