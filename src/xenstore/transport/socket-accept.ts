import { Buffer } from 'node:buffer';
import net from 'node:net';
import {
  type FdWatch,
  isNativeAvailable,
  loadNative,
  type XenwireNative,
} from '../../device/native.ts';
import type { SocketBinder } from './socket-file.ts';
import { copiedReads, READ_BUFFER_SIZE } from './socket-reads.ts';

/**
 * The two ways a unix-socket listener takes its connections, each handing every connection over
 * as a `net.Socket` and its bytes to the reader the listener gives for it.
 */

/** Receives one connection's bytes in order; each chunk is the reader's to keep. */
export type ChunkReader = (chunk: Uint8Array) => void;

/**
 * Takes over an accepted connection: returns the reader of its bytes, or nothing when it refused
 * the connection (and destroyed the socket).
 */
export type ServeConnection = (socket: net.Socket) => ChunkReader | undefined;

/** A way of accepting connections: a binder whose connections go to `serve`. */
export type Acceptor = (serve: ServeConnection) => SocketBinder;

/**
 * Accepts with the native addon when it is loadable and has a listening socket (one built from an
 * older version has none) ({@link nativeAcceptor}), otherwise with a `net.Server`
 * ({@link nodeAcceptor}).
 */
export function defaultAcceptor(): Acceptor {
  return isNativeAvailable() && typeof loadNative().unixStreamListen === 'function'
    ? nativeAcceptor
    : nodeAcceptor;
}

/**
 * A `net.Server`. Node reads each connection into a fresh buffer per read and hands it over
 * through the stream machinery (`'data'`).
 */
export const nodeAcceptor: Acceptor = (serve) => {
  const server = net.createServer((socket) => {
    const reader = serve(socket);
    if (reader !== undefined) socket.on('data', reader);
  });
  return {
    listen: (path) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
};

/** How long accepting pauses after it failed (out of descriptors or memory). */
const ACCEPT_RETRY_MS = 100;

/**
 * The native addon's listening socket, watched on the event loop's poller: each connection is
 * accepted there and wrapped as `new net.Socket({ fd, onread })`, so the kernel reads into one
 * buffer the listener reuses and the bytes come straight from the handle, without the fresh
 * 64 KiB buffer and the stream machinery of each read on a socket a `net.Server` accepted.
 */
export const nativeAcceptor: Acceptor = (serve) => {
  const native = loadNative();
  // Shared by the listener's connections: each read is copied out before the next.
  const readBuffer = Buffer.allocUnsafe(READ_BUFFER_SIZE);
  let fd = -1;
  let watch: FdWatch | undefined;
  let retry: NodeJS.Timeout | undefined;
  const acceptWaiting = (): void => {
    for (;;) {
      const connection = acceptNext(native, fd);
      if (connection === -1) return;
      if (connection === undefined) {
        // The process is out of descriptors: the connections wait in the backlog meanwhile.
        stopWatching();
        retry = setTimeout(startWatching, ACCEPT_RETRY_MS);
        return;
      }
      let read: ChunkReader = ignore;
      // Node documents `onread` for this constructor; its typings give it to connect only.
      const options: net.SocketConstructorOpts & net.ConnectOpts = {
        fd: connection,
        readable: true,
        writable: true,
        onread: copiedReads(readBuffer, (chunk) => read(chunk)),
      };
      const socket = new net.Socket(options);
      read = serve(socket) ?? ignore;
    }
  };
  const startWatching = (): void => {
    retry = undefined;
    watch = native.watchReadable(fd, acceptWaiting);
  };
  const stopWatching = (): void => {
    if (watch !== undefined) native.unwatch(watch);
    watch = undefined;
  };
  return {
    async listen(path) {
      fd = native.unixStreamListen(path);
      startWatching();
    },
    async close() {
      clearTimeout(retry);
      stopWatching();
      if (fd !== -1) native.closeFd(fd);
      fd = -1;
    },
  };
};

/** The next connection's descriptor, -1 if none waits, or undefined when accepting failed. */
function acceptNext(native: XenwireNative, fd: number): number | undefined {
  try {
    return native.unixStreamAccept(fd);
  } catch {
    return undefined;
  }
}

function ignore(): void {}
