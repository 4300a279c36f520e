import { closeSync, constants, openSync } from 'node:fs';
import { XEN_PAGE_SIZE } from '../ring/memory.ts';
import { isDomid } from './domid.ts';
import { DeviceError, toDeviceError } from './errors.ts';
import { mapFd, unmap } from './mapping.ts';
import { loadNative, type XenwireNative } from './native.ts';

/** Pages shared through a grant device: the memory, plus how to give it back. */
export interface GrantMapping {
  /** The pages, `count × 4096` bytes, shared with the other domain. */
  readonly buffer: ArrayBuffer;
  /** Grant references of the pages, in order. */
  readonly refs: readonly number[];
  /** Unmaps the pages and releases the grants; a second call fails with `EINVAL`. */
  release(): void;
}

/**
 * What the kernel does once pages are finally unmapped, whether released or because their
 * process died: libxenvchan's way of telling the peer that an end is gone.
 */
export interface UnmapNotify {
  /** Byte offset, in the mapping, of a byte the kernel sets to 0. */
  readonly clearByte?: number;
  /** A port bound through this domain's event channels, which the kernel notifies. */
  readonly port?: number;
}

const UNMAP_NOTIFY_CLEAR_BYTE = 1;
const UNMAP_NOTIFY_SEND_EVENT = 2;

/** Registers `notify` for the pages mapped at `index` through `set` (gntdev's or gntalloc's). */
function setUnmapNotify(
  set: (index: number, action: number, port: number) => void,
  index: number,
  count: number,
  notify: UnmapNotify | undefined,
): void {
  if (notify === undefined) return;
  const { clearByte = 0, port } = notify;
  if (!Number.isInteger(clearByte) || clearByte < 0 || clearByte >= count * XEN_PAGE_SIZE) {
    throw new DeviceError('EINVAL', `unmap notify: byte ${clearByte} is outside the mapping`);
  }
  const action =
    (notify.clearByte === undefined ? 0 : UNMAP_NOTIFY_CLEAR_BYTE) |
    (port === undefined ? 0 : UNMAP_NOTIFY_SEND_EVENT);
  if (action === 0) return;
  call('set unmap notify', () => set(index + clearByte, action, port ?? 0));
}

function call<T>(operation: string, body: () => T): T {
  try {
    return body();
  } catch (error) {
    throw toDeviceError(error, operation);
  }
}

function openDevice(path: string): { native: XenwireNative; fd: number } {
  const native = loadNative();
  return { native, fd: call(`open ${path}`, () => openSync(path, constants.O_RDWR)) };
}

function checkDomid(domid: number, operation: string): void {
  if (!isDomid(domid))
    throw new DeviceError('EINVAL', `${operation}: bad domain id ${String(domid)}`);
}

function checkCount(count: number, operation: string): void {
  if (!Number.isInteger(count) || count < 1 || count > 65536) {
    throw new DeviceError('EINVAL', `${operation}: count must be 1 … 65536`);
  }
}

/** Releases a mapping once: unmaps, then runs the device-side cleanup. */
function releaser(buffer: ArrayBuffer, cleanup: () => void): () => void {
  let released = false;
  return () => {
    if (released) throw new DeviceError('EINVAL', 'grant mapping already released');
    released = true;
    unmap(buffer);
    cleanup();
  };
}

/**
 * `/dev/xen/gntdev`: maps pages other domains granted to this one (what libxengnttab's
 * `map_grant_refs` does), via the native addon.
 */
export class GrantMapper {
  private constructor(
    private readonly native: XenwireNative,
    private readonly fd: number,
  ) {}

  /** @throws DeviceError `ENOSYS` without the addon, `ENOENT` off Xen */
  static open(path = '/dev/xen/gntdev'): GrantMapper {
    const { native, fd } = openDevice(path);
    return new GrantMapper(native, fd);
  }

  /** Limits how many grants this handle may map at once (`IOCTL_GNTDEV_SET_MAX_GRANTS`). */
  setMaxGrants(count: number): void {
    checkCount(count, 'setMaxGrants');
    call('setMaxGrants', () => this.native.gntdevSetMaxGrants(this.fd, count));
  }

  /**
   * Maps grants `refs` of domain `domid`, contiguously; `unmapNotify` says what the kernel does
   * when the mapping goes.
   */
  map(
    domid: number,
    refs: readonly number[],
    options: { writable?: boolean; unmapNotify?: UnmapNotify } = {},
  ): GrantMapping {
    checkDomid(domid, 'map');
    checkCount(refs.length, 'map');
    const index = call('map', () => this.native.gntdevMapGrantRefs(this.fd, domid, refs));
    let buffer: ArrayBuffer;
    try {
      buffer = mapFd(this.fd, {
        length: refs.length * XEN_PAGE_SIZE,
        offset: index,
        writable: options.writable ?? true,
      });
    } catch (error) {
      this.native.gntdevUnmapGrantRef(this.fd, index, refs.length);
      throw error;
    }
    try {
      setUnmapNotify(
        (at, action, port) => this.native.gntdevSetUnmapNotify(this.fd, at, action, port),
        index,
        refs.length,
        options.unmapNotify,
      );
    } catch (error) {
      unmap(buffer);
      this.native.gntdevUnmapGrantRef(this.fd, index, refs.length);
      throw error;
    }
    const release = releaser(buffer, () =>
      call('unmap', () => this.native.gntdevUnmapGrantRef(this.fd, index, refs.length)),
    );
    return { buffer, refs: [...refs], release };
  }

  /** Closes the device; mappings still held stay valid until released. */
  close(): void {
    call('close', () => closeSync(this.fd));
  }
}

/**
 * `/dev/xen/gntalloc`: grants fresh pages of this domain to another one (what libxengnttab's
 * `gntshr_share_pages` does), via the native addon.
 */
export class GrantSharer {
  private constructor(
    private readonly native: XenwireNative,
    private readonly fd: number,
  ) {}

  /** @throws DeviceError `ENOSYS` without the addon, `ENOENT` off Xen */
  static open(path = '/dev/xen/gntalloc'): GrantSharer {
    const { native, fd } = openDevice(path);
    return new GrantSharer(native, fd);
  }

  /**
   * Grants `count` zeroed pages to `domid`; `writable: false` makes the grant read-only;
   * `unmapNotify` says what the kernel does when the pages go.
   */
  share(
    domid: number,
    count: number,
    options: { writable?: boolean; unmapNotify?: UnmapNotify } = {},
  ): GrantMapping {
    checkDomid(domid, 'share');
    checkCount(count, 'share');
    const granted = call('share', () =>
      this.native.gntallocAllocGref(this.fd, domid, count, options.writable ?? true),
    );
    const dealloc = () =>
      call('unshare', () => this.native.gntallocDeallocGref(this.fd, granted.index, count));
    let buffer: ArrayBuffer;
    try {
      buffer = mapFd(this.fd, { length: count * XEN_PAGE_SIZE, offset: granted.index });
    } catch (error) {
      dealloc();
      throw error;
    }
    try {
      setUnmapNotify(
        (at, action, port) => this.native.gntallocSetUnmapNotify(this.fd, at, action, port),
        granted.index,
        count,
        options.unmapNotify,
      );
    } catch (error) {
      unmap(buffer);
      dealloc();
      throw error;
    }
    return { buffer, refs: granted.refs, release: releaser(buffer, dealloc) };
  }

  /** Closes the device; shared pages stay granted until released. */
  close(): void {
    call('close', () => closeSync(this.fd));
  }
}
