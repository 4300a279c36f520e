import type { UnmapNotify } from '../device/index.ts';
import type { EventChannel } from '../evtchn/index.ts';
import { XenbusError } from './errors.ts';

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

/** How grants are mapped. */
export interface MappingOptions extends SharingOptions {
  /** Map read-only (which also maps grants the peer gave read-only). */
  readonly readonly?: boolean;
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
  /**
   * Maps grants `refs` of domain `domid` into this domain (gntdev): writable, or read-only with
   * `readonly` (which also maps grants the peer gave read-only).
   */
  mapGrants(domid: number, refs: readonly number[], options?: MappingOptions): SharedPages;
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

/**
 * The pages as one view, for rings that span several (a multi-page ring's slots straddle page
 * boundaries). Real grant devices map a request's pages contiguously; on the simulated host,
 * pages granted together are adjacent, and a peer's refs that are not give no such view.
 * @throws XenbusError `EPROTO` when the pages are not one stretch of memory
 */
export function contiguousPages(shared: SharedPages): Uint8Array {
  const [first] = shared.pages;
  if (!first) throw new XenbusError('EPROTO', 'no pages');
  let end = first.byteOffset;
  for (const page of shared.pages) {
    if (page.buffer !== first.buffer || page.byteOffset !== end) {
      throw new XenbusError(
        'EPROTO',
        `refs ${shared.refs.join(', ')} are not one stretch of memory`,
      );
    }
    end += page.byteLength;
  }
  return new Uint8Array(first.buffer, first.byteOffset, end - first.byteOffset);
}
