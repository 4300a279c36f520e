import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Futex } from '../ring/index.ts';
import { DeviceError } from './errors.ts';

/** Struct layout published by the addon: `size` plus the byte offset of each field. */
export type NativeLayout = Readonly<Record<string, number>> & { readonly size: number };

/** The ioctl numbers and struct layouts the addon was compiled with. */
export interface NativeAbi {
  readonly ioctls: Readonly<Record<string, number>>;
  readonly layouts: Readonly<Record<string, NativeLayout>>;
}

/** Opaque handle of a file-descriptor watch. */
export type FdWatch = { readonly __fdWatch: unique symbol };

/**
 * The functions of the native addon. Every function throws an `Error` whose `code` is an errno
 * name (`EINVAL`, `ENOTCONN`, …) on failure, and validates its arguments (bad ones: `EINVAL`).
 * Its futex calls are `Atomics.wait`/`notify` through the kernel futex directly, in the shape the
 * rings' doorbell takes ({@link Futex}).
 */
export interface XenwireNative extends Futex {
  readonly abi: NativeAbi;
  /** `mmap(MAP_SHARED)` of `fd` as an external ArrayBuffer; unmapped by {@link munmap} or GC. */
  mmap(fd: number, length: number, offset: number, writable: boolean): ArrayBuffer;
  /** Unmaps a buffer from {@link mmap} now and detaches it (its byteLength becomes 0). */
  munmap(buffer: ArrayBuffer): void;

  evtchnBindVirq(fd: number, virq: number): number;
  evtchnBindInterdomain(fd: number, remoteDomid: number, remotePort: number): number;
  evtchnBindUnboundPort(fd: number, remoteDomid: number): number;
  evtchnUnbind(fd: number, port: number): void;
  evtchnNotify(fd: number, port: number): void;
  evtchnReset(fd: number): void;
  evtchnRestrict(fd: number, domid: number): void;
  /** Nonblocking read of pending ports; `[]` when none. */
  evtchnReadPorts(fd: number): number[];
  /** Writes ports back, which unmasks them. */
  evtchnWritePorts(fd: number, ports: readonly number[]): void;

  /** Maps grants of `domid` into the gntdev file; returns the offset to mmap them at. */
  gntdevMapGrantRefs(fd: number, domid: number, refs: readonly number[]): number;
  gntdevUnmapGrantRef(fd: number, index: number, count: number): void;
  gntdevSetMaxGrants(fd: number, count: number): void;
  /** Grants `count` fresh pages to `domid`; mmap them at `index`. */
  gntallocAllocGref(
    fd: number,
    domid: number,
    count: number,
    writable: boolean,
  ): { index: number; refs: number[] };
  gntallocDeallocGref(fd: number, index: number, count: number): void;
  /**
   * `IOCTL_GNTDEV_SET_UNMAP_NOTIFY` / `IOCTL_GNTALLOC_SET_UNMAP_NOTIFY`: `action` is a mask of
   * UNMAP_NOTIFY_CLEAR_BYTE (1: zero the byte at mmap offset `index`) and UNMAP_NOTIFY_SEND_EVENT
   * (2: notify `port`).
   */
  gntdevSetUnmapNotify(fd: number, index: number, action: number, port: number): void;
  gntallocSetUnmapNotify(fd: number, index: number, action: number, port: number): void;

  /** Calls `callback` from the event loop each time `fd` is readable (it must drain the fd). */
  watchReadable(fd: number, callback: (errorName?: string) => void): FdWatch;
  unwatch(watch: FdWatch): void;

  /** A nonblocking unix datagram socket bound to `path`. */
  unixDgramBind(path: string): number;
  /** Sends one datagram carrying `port` as 4 little-endian bytes. */
  unixDgramSendPort(fd: number, peerPath: string, port: number): void;
  /** Drains queued datagrams; ones that are not 4 bytes long are counted as malformed. */
  unixDgramReceivePorts(fd: number): { ports: number[]; malformed: number };
  closeFd(fd: number): void;
}

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Where the addon is loaded from: `XENWIRE_NATIVE_ADDON` if set, else node-gyp's output in the
 * package (`native/build/Release/xenwire.node`, two levels above both `src/device` and
 * `dist/device`).
 */
export function nativeAddonPath(): string {
  return (
    process.env.XENWIRE_NATIVE_ADDON ??
    join(here, '..', '..', 'native', 'build', 'Release', 'xenwire.node')
  );
}

/** How a user builds the addon, from a project that depends on xenwire or from a checkout. */
export const NATIVE_BUILD_HINT =
  'build it from your project with `npm rebuild xenwire` (needs a C compiler, make and python3, ' +
  'and npm allowed to run its install script: `npm install-scripts approve xenwire`); in a ' +
  'checkout of xenwire, `npm run build:native`';

let loaded: XenwireNative | undefined;

/**
 * Loads the native addon (once per thread).
 * @throws DeviceError `ENOSYS` when the addon was not built (no compiler at install time); its
 *   message says how to build it
 */
export function loadNative(): XenwireNative {
  if (loaded) return loaded;
  const path = nativeAddonPath();
  try {
    loaded = createRequire(import.meta.url)(path) as XenwireNative;
  } catch (error) {
    throw new DeviceError(
      'ENOSYS',
      `native addon not built or not loadable (${path}): ${NATIVE_BUILD_HINT}. ` +
        '`xenwire doctor` shows what works here',
      { cause: error },
    );
  }
  return loaded;
}

/** True when {@link loadNative} would succeed. */
export function isNativeAvailable(): boolean {
  try {
    loadNative();
    return true;
  } catch {
    return false;
  }
}
