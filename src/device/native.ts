import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Futex } from '../ring/index.ts';
import { DeviceError } from './errors.ts';

/** Struct layout published by the addon: `size` plus the byte offset of each field. */
export type NativeLayout = Readonly<Record<string, number>> & {
  /** `sizeof` the struct, in bytes. */
  readonly size: number;
};

/** The ioctl numbers and struct layouts the addon was compiled with. */
export interface NativeAbi {
  /** Request numbers by Linux's names (`IOCTL_EVTCHN_BIND_VIRQ`, …), as the headers define them. */
  readonly ioctls: Readonly<Record<string, number>>;
  /**
   * The ioctl argument structs by C name, so tests can compare the addon's view of the headers
   * with Xen's public ones.
   */
  readonly layouts: Readonly<Record<string, NativeLayout>>;
}

/** Opaque handle of a file mapping made by {@link XenwireNative.fileMap}. */
export type FileMapHandle = {
  /** A type brand only, so no other value passes for a mapping; absent at run time. */
  readonly __fileMap: unique symbol;
};

/** Opaque handle of a file-descriptor watch. */
export type FdWatch = {
  /** A type brand only, so no other value passes for a watch; absent at run time. */
  readonly __fdWatch: unique symbol;
};

/** Opaque handle of a native vchan pump. */
export type VchanPumpHandle = {
  /** A type brand only, so no other value passes for a pump; absent at run time. */
  readonly __vchanPump: unique symbol;
};

/** Words of a vchan pump's state array (an Int32Array), as the addon fills them. */
export const VchanPumpState = {
  /** Bytes the last step placed at the start of the inbox. */
  received: 0,
  /** How far the current chunk is written. */
  offset: 1,
  /** The peer's live byte, read before the last step moved anything. */
  peerLive: 2,
  /** 0, or the errno code that stopped the last step (`EPROTO`: corrupt indexes). */
  error: 3,
  /** How many times a step decided to wake the peer, since the pump was opened. */
  notifies: 4,
  /** Set by the caller: nonzero to read into the inbox, on steps and wake-ups. */
  wantRead: 5,
  /** With `EPROTO`: 0 when the write ring's indexes were corrupt, 1 the read ring's. */
  badRing: 6,
  /** The number of words. */
  words: 7,
} as const;

/**
 * The functions of the native addon. Every function throws an `Error` whose `code` is an errno
 * name (`EINVAL`, `ENOTCONN`, …) on failure, and validates its arguments (bad ones: `EINVAL`).
 * Its futex calls are `Atomics.wait`/`notify` through the kernel futex directly, in the shape the
 * rings' doorbell takes ({@link Futex}).
 */
export interface XenwireNative extends Futex {
  /** What the addon was compiled against: checked against Xen's headers in tests. */
  readonly abi: NativeAbi;
  /** `mmap(MAP_SHARED)` of `fd` as an external ArrayBuffer; unmapped by {@link munmap} or GC. */
  mmap(fd: number, length: number, offset: number, writable: boolean): ArrayBuffer;
  /** Unmaps a buffer from {@link mmap} now and detaches it (its byteLength becomes 0). */
  munmap(buffer: ArrayBuffer): void;
  /** Maps the first `length` bytes of a regular file shared, for {@link fileCopy}. */
  fileMap(fd: number, length: number, writable: boolean): FileMapHandle;
  /** Unmaps a {@link fileMap} mapping now; copies through it fail with `EBADF` afterwards. */
  fileUnmap(handle: FileMapHandle): void;
  /**
   * Copies `count` pieces, one after another, to (`toFile`) or from the mapped file from byte
   * `offset` on. Piece i is `pieces[3i + 2]` bytes from byte `pieces[3i + 1]` of
   * `areas[pieces[3i]]` (at most 64 areas). `EIO` when the file ended under the mapping (its
   * SIGBUS is caught).
   */
  fileCopy(
    handle: FileMapHandle,
    offset: number,
    areas: readonly Uint8Array[],
    pieces: Float64Array,
    count: number,
    toFile: boolean,
  ): void;

  /** `IOCTL_EVTCHN_BIND_VIRQ` on an evtchn fd: returns the local port. */
  evtchnBindVirq(fd: number, virq: number): number;
  /** `IOCTL_EVTCHN_BIND_INTERDOMAIN`: binds to `remotePort` of `remoteDomid`; returns the local port. */
  evtchnBindInterdomain(fd: number, remoteDomid: number, remotePort: number): number;
  /** `IOCTL_EVTCHN_BIND_UNBOUND_PORT`: a port `remoteDomid` may bind to; returns it. */
  evtchnBindUnboundPort(fd: number, remoteDomid: number): number;
  /** `IOCTL_EVTCHN_UNBIND`: closes a port bound through this fd. */
  evtchnUnbind(fd: number, port: number): void;
  /** `IOCTL_EVTCHN_NOTIFY`: signals the port's remote end. */
  evtchnNotify(fd: number, port: number): void;
  /** `IOCTL_EVTCHN_RESET`: clears the fd's queue of pending ports (the bindings stay). */
  evtchnReset(fd: number): void;
  /** `IOCTL_EVTCHN_RESTRICT_DOMID`: from now on the fd may only bind ports of `domid`. */
  evtchnRestrict(fd: number, domid: number): void;
  /** Writes ports back, which unmasks them. */
  evtchnWritePorts(fd: number, ports: readonly number[]): void;

  /** Maps grants of `domid` into the gntdev file; returns the offset to mmap them at. */
  gntdevMapGrantRefs(fd: number, domid: number, refs: readonly number[]): number;
  /** `IOCTL_GNTDEV_UNMAP_GRANT_REF`: releases `count` grants mapped at offset `index`. */
  gntdevUnmapGrantRef(fd: number, index: number, count: number): void;
  /** `IOCTL_GNTDEV_SET_MAX_GRANTS`: caps how many grants the fd may map at once. */
  gntdevSetMaxGrants(fd: number, count: number): void;
  /** Grants `count` fresh pages to `domid`; mmap them at `index`. */
  gntallocAllocGref(
    fd: number,
    domid: number,
    count: number,
    writable: boolean,
  ): {
    /** The offset in the gntalloc file to mmap the pages at. */
    index: number;
    /** The grant reference of each page, to hand to `domid`. */
    refs: number[];
  };
  /**
   * `IOCTL_GNTALLOC_DEALLOC_GREF`: ends the grants at `index`; the pages are freed once unmapped
   * here and by the peer.
   */
  gntallocDeallocGref(fd: number, index: number, count: number): void;
  /**
   * `IOCTL_GNTDEV_SET_UNMAP_NOTIFY` / `IOCTL_GNTALLOC_SET_UNMAP_NOTIFY`: `action` is a mask of
   * UNMAP_NOTIFY_CLEAR_BYTE (1: zero the byte at mmap offset `index`) and UNMAP_NOTIFY_SEND_EVENT
   * (2: notify `port`).
   */
  gntdevSetUnmapNotify(fd: number, index: number, action: number, port: number): void;
  /** The same for pages granted through gntalloc. */
  gntallocSetUnmapNotify(fd: number, index: number, action: number, port: number): void;

  /** Calls `callback` from the event loop each time `fd` is readable (it must drain the fd). */
  watchReadable(fd: number, callback: (errorName?: string) => void): FdWatch;
  /**
   * Watches an event-channel descriptor (`'datagram'`: a unix datagram socket of port numbers;
   * `'evtchn'`: `/dev/xen/evtchn`) and reads the ports that fired itself; `callback` gets each
   * of them once per wake-up, and is not called when there was nothing to read. An error polling
   * or reading comes as its name (e.g. `'EBADF'`).
   */
  watchPorts(
    fd: number,
    source: 'datagram' | 'evtchn',
    callback: (errorName: string | undefined, ports: number[], malformed: number) => void,
  ): FdWatch;
  /** Stops a {@link watchReadable} or {@link watchPorts} watch and releases its libuv handle. */
  unwatch(watch: FdWatch): void;

  /** A nonblocking unix datagram socket bound to `path`. */
  unixDgramBind(path: string): number;
  /** Sends one datagram carrying `port` as 4 little-endian bytes. */
  unixDgramSendPort(fd: number, peerPath: string, port: number): void;
  /**
   * A nonblocking unix stream socket bound to `path` and listening; its connections are taken
   * with {@link unixStreamAccept} when {@link watchReadable} says it is readable.
   */
  unixStreamListen(path: string): number;
  /** The next waiting connection's descriptor (nonblocking, close-on-exec), or -1 if none waits. */
  unixStreamAccept(fd: number): number;
  /**
   * A libxenvchan end whose bytes move in native code, `tools/libs/vchan/io.c`'s protocol. `page`
   * is the shared page, `left`/`right` the rings' data (each exactly its order's size), the
   * 64 KiB `inbox` where reads are handed over, `state` an Int32Array of {@link VchanPumpState}
   * words. With `fd` the vchan's own evtchn descriptor (≥ 0, `port` its only port), a thread of
   * the pump waits on it, moves the bytes, notifies and unmasks on each wake-up, and calls
   * `onWake` from the event loop when bytes arrived, the chunk was all written, the peer's live
   * byte changed or an error stopped it; {@link vchanPumpTake} then hands the outcome over. With
   * -1 it moves bytes only when stepped, and counts its notifies.
   */
  vchanPumpOpen(
    server: boolean,
    page: Uint8Array,
    left: Uint8Array,
    right: Uint8Array,
    inbox: Uint8Array,
    state: Int32Array,
    fd: number,
    port: number,
    onWake: () => void,
  ): VchanPumpHandle;
  /**
   * Hands a pump the chunk to write from `offset` (null: none), on this step and the wake-ups
   * after it, moves what can move now, and hands the outcome over (state words, inbox).
   */
  vchanPumpStep(pump: VchanPumpHandle, chunk: Uint8Array | null, offset: number): void;
  /** Hands over what the pump's thread did since the last step or take (state words, inbox). */
  vchanPumpTake(pump: VchanPumpHandle): void;
  /**
   * Stops a pump (and its thread), hands over what its last wake-ups did (state words, inbox)
   * and lets go of its memory; a second call is harmless.
   */
  vchanPumpClose(pump: VchanPumpHandle): void;
  /** `close(2)`, for any fd the addon opened. */
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
