import { GrantMapper, type GrantMapping, GrantSharer } from '../device/index.ts';
import { DeviceEventChannel } from '../evtchn/index.ts';
import { XEN_PAGE_SIZE } from '../ring/index.ts';
import type { XenstoreClient } from '../xenstore/index.ts';
import type { DevicePlatform, SharedPages } from './platform.ts';

function pagesOf(mapping: GrantMapping): SharedPages {
  const pages = mapping.refs.map(
    (_, i) => new Uint8Array(mapping.buffer, i * XEN_PAGE_SIZE, XEN_PAGE_SIZE),
  );
  return { pages, refs: mapping.refs, release: mapping.release };
}

/** Where the real devices are, for tests that run elsewhere; the defaults are Linux's. */
export interface XenPlatformOptions {
  /** The event-channel device (default `/dev/xen/evtchn`). */
  readonly evtchnPath?: string;
  /** The device that grants this domain's pages to others (default `/dev/xen/gntalloc`). */
  readonly gntallocPath?: string;
  /** The device that maps other domains' grants (default `/dev/xen/gntdev`). */
  readonly gntdevPath?: string;
  /**
   * Asked whether a peer domain still exists (`IS_DOMAIN_INTRODUCED`); needs a privileged
   * connection. Without it the device relies on the peer's nodes alone.
   */
  readonly client?: XenstoreClient;
}

/**
 * This domain on real Xen as a {@link DevicePlatform}: `/dev/xen/evtchn`, `/dev/xen/gntalloc`
 * and `/dev/xen/gntdev` through the native addon. The grant devices open on first use, so a
 * frontend needs no gntdev and a backend no gntalloc.
 * @throws DeviceError `ENOSYS` without the addon, `ENOENT` off Xen
 */
export function xenPlatform(options: XenPlatformOptions = {}): DevicePlatform {
  const eventChannel = DeviceEventChannel.open(options.evtchnPath);
  let sharer: GrantSharer | undefined;
  let mapper: GrantMapper | undefined;
  return {
    eventChannel,
    grantPages(domid, count, sharing = {}) {
      sharer ??= GrantSharer.open(options.gntallocPath);
      return pagesOf(sharer.share(domid, count, sharing));
    },
    mapGrants(domid, refs, mapping = {}) {
      mapper ??= GrantMapper.open(options.gntdevPath);
      return pagesOf(
        mapper.map(domid, refs, { writable: !mapping.readonly, unmapNotify: mapping.unmapNotify }),
      );
    },
    async domainAlive(domid) {
      if (!options.client) return undefined;
      try {
        return await options.client.isDomainIntroduced(domid);
      } catch {
        return undefined;
      }
    },
    close() {
      if (!eventChannel.closed) eventChannel.close();
      sharer?.close();
      mapper?.close();
    },
  };
}
