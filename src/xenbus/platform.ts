import type { UnmapNotify } from '../device/index.ts';
import type { EventChannel } from '../evtchn/index.ts';

/** Pages shared with or from another domain, and how to give them back. */
export interface SharedPages {
  /** One 4096-byte view per page, in grant order. */
  readonly pages: readonly Uint8Array[];
  /** Grant references of the pages, in order. */
  readonly refs: readonly number[];
  /** Ends the sharing (ungrants or unmaps). Call once. */
  release(): void;
}

/** How pages are shared or mapped. */
export interface SharingOptions {
  /**
   * What happens when the pages finally go, released or because this end's process died: a
   * byte of them cleared, a port notified (libxenvchan's liveness signal).
   */
  readonly unmapNotify?: UnmapNotify;
}

/**
 * What a device end needs from the hypervisor, so that one device implementation runs on the
 * simulated hypervisor ({@link simulatedPlatform}) and on real Xen ({@link xenPlatform}).
 */
export interface DevicePlatform {
  /** The domain this end runs in, when known (real guests need not know it). */
  readonly domid?: number;
  /** The event-channel handle device ports are bound through. */
  readonly eventChannel: EventChannel;
  /**
   * Grants `count` fresh zeroed pages of this domain to `domid` (gntalloc). Released while the
   * peer still maps them, they stay until the peer unmaps, as gntalloc's pages do.
   */
  grantPages(domid: number, count: number, options?: SharingOptions): SharedPages;
  /** Maps grants `refs` of domain `domid` into this domain, writable (gntdev). */
  mapGrants(domid: number, refs: readonly number[], options?: SharingOptions): SharedPages;
  /**
   * Whether `domid` still exists, asked when xenstore fires `@releaseDomain`. `undefined` when
   * this domain cannot tell (an unprivileged guest): the device then relies on the peer's nodes.
   */
  domainAlive(domid: number): Promise<boolean | undefined>;
  /**
   * Closes the event-channel handle and grant devices. In the simulation this is the end's
   * process exiting: pages still held are released, and their unmap notifications happen,
   * as the kernel does for a dying process.
   */
  close(): void;
}
