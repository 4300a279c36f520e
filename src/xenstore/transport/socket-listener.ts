import { once } from 'node:events';
import type net from 'node:net';
import { type BusyPoll, busyWaiter, DEFAULT_BUSY_POLL } from '../../event-loop/busy-poller.ts';
import { framedTransport } from './byte-stream.ts';
import { type Acceptor, type ChunkReader, defaultAcceptor } from './socket-accept.ts';
import { claimSocketFile } from './socket-file.ts';
import type { XenstoreConnection, XenstoreService } from './transport.ts';

/**
 * Where and as whom a unix-socket listener serves.
 * @category Transports
 */
export interface ListenOptions {
  /**
   * The socket file (`XENSTORED_PATH` for the C tools), at most 107 bytes. A socket file there
   * on which nothing answers is replaced; one on which a server answers is left alone (the
   * listener fails with `EADDRINUSE`).
   */
  readonly path: string;
  /**
   * The domain every connection speaks for. Default 0: privileged, like C xenstored's socket. A
   * guest domid gives unprivileged connections homed at `/local/domain/<domid>`.
   */
  readonly domid?: number;
  /**
   * What the server does between answering a client and that client's next request: sleep until
   * the request wakes it, or keep the event loop turning (spin). Default `false`: never spin, the
   * least CPU per request. `'adaptive'`: the quicker of the two as measured (see
   * `XenstoreClientOptions.busyPoll` for when that pays); `true` always spins. A spin never
   * lasts more than 0.1 ms without a request.
   */
  readonly busyPoll?: BusyPoll;
  /**
   * Connections open at once; more are refused (closed as soon as accepted). A real guest has
   * one ring, so a guest socket (a `domid` other than 0) takes `GUEST_CONNECTIONS` (16) unless
   * told otherwise; the dom0 socket is not limited unless told.
   */
  readonly maxConnections?: number;
}

/** Connections a guest socket accepts at once by default. */
export const GUEST_CONNECTIONS = 16;

/**
 * A listening socket.
 * @category Transports
 */
export interface Listener {
  /** The socket file. */
  readonly path: string;
  /**
   * Stops listening, drops this listener's connections and removes the socket file if it is
   * still the one this listener created.
   */
  close(): Promise<void>;
}

/**
 * The server end of unix sockets: serves `server` on the socket `options.path`, each connection
 * framed as the client end frames it; resolves once it accepts connections. Never takes over a
 * live socket: rejects with `EADDRINUSE` when a server answers on the path, `ENAMETOOLONG` when
 * the path does not fit a unix socket address.
 *
 * With the native addon built, the addon accepts the connections and Node reads each into one
 * reused buffer (`onread`), which costs the daemon less CPU per request than the reads of a
 * `net.Server`'s connections; without it, a `net.Server` accepts them, with the same behaviour.
 *
 * ```ts
 * const listener = await socketListener(server, { path: '/tmp/xs.sock' }); // dom0, privileged
 * ```
 * @category Transports
 */
export function socketListener(server: XenstoreService, options: ListenOptions): Promise<Listener> {
  return listenAccepting(server, options, defaultAcceptor());
}

/** {@link socketListener} with its connections accepted by `acceptor`. */
export async function listenAccepting(
  server: XenstoreService,
  options: ListenOptions,
  acceptor: Acceptor,
): Promise<Listener> {
  const { path } = options;
  const domid = options.domid ?? 0;
  const maxConnections = options.maxConnections ?? (domid === 0 ? undefined : GUEST_CONNECTIONS);
  const sockets = new Set<net.Socket>();
  const busyPoll = options.busyPoll ?? DEFAULT_BUSY_POLL;
  // Not tracked at all when never spinning: tracking reads the clock per request.
  const answered = busyPoll === false ? undefined : new AnsweredClients();
  const poller = busyWaiter(busyPoll, () => answered?.expected() ?? 0);
  // A guest socket speaks for a live domain: known from now on, refused once released.
  if (domid !== 0) server.domains.assume(domid);
  const serve = (socket: net.Socket): ChunkReader | undefined => {
    if (
      !server.domains.isIntroduced(domid) ||
      (maxConnections !== undefined && sockets.size >= maxConnections)
    ) {
      socket.destroy();
      return undefined;
    }
    sockets.add(socket);
    // Replies to one chunk of requests leave in one write; output made outside this chunk's
    // handling (events caused by other connections, requests served in later turns) is corked
    // until the current callback returns. One array serves every chunk.
    const batch: Uint8Array[] = [];
    let batching = false;
    let corked = false;
    const uncork = (): void => {
      corked = false;
      socket.uncork();
    };
    let conn: XenstoreConnection | undefined;
    let reader: ChunkReader = () => {};
    const write = (frame: Uint8Array) => {
      if (batching) {
        batch.push(frame);
        return;
      }
      if (!corked) {
        corked = true;
        socket.cork();
        process.nextTick(uncork);
      }
      socket.write(frame);
    };
    const transport = framedTransport(
      { onMessage: (message) => conn?.send(message), onClose: () => conn?.close() },
      (bytes) => {
        reader = (chunk) => {
          if (answered?.delete(socket)) poller.arrived();
          batching = true;
          try {
            bytes.onData(chunk);
          } finally {
            batching = false;
            const out = batch.length === 1 ? batch[0]! : Buffer.concat(batch);
            batch.length = 0;
            if (out.length > 0 && socket.write(out) && answered?.add(socket)) poller.expect();
          }
          // Requests wait for their turn in the daemon (all the more when this client does not
          // read its replies): nothing more is read until they are served.
          if (conn !== undefined && conn.queued > 0) socket.pause();
        };
        socket.on('close', () => {
          sockets.delete(socket);
          answered?.delete(socket);
          bytes.onClose();
        });
        socket.on('error', () => socket.destroy());
        return { write, close: () => socket.destroy() };
      },
    );
    conn = server.connect({
      domid,
      privileged: domid === 0 ? true : undefined,
      onMessage: (message) => transport.send(message),
      onClose: () => socket.destroy(),
      backlog: () => socket.writableLength,
      fair: true,
      onDrained: () => socket.resume(),
      writeBytes: write,
    });
    return reader;
  };
  const binder = acceptor(serve);
  const socketFile = await claimSocketFile(binder, path);
  return {
    path,
    async close() {
      const closed = [...sockets].map((socket) => once(socket, 'close'));
      for (const socket of sockets) socket.destroy();
      await binder.close();
      await Promise.all(closed);
      socketFile.release();
    },
  };
}

/** How long after its reply a client's next request is still expected. */
const NEXT_REQUEST_EXPECTED_MS = 1;

/**
 * Clients answered lately and silent since: the next request of one of them is what a spin
 * awaits. One that stays silent longer than {@link NEXT_REQUEST_EXPECTED_MS} (a watcher, a tool
 * between commands) is no longer expected, so it cannot keep the server spinning.
 */
class AnsweredClients {
  /** Reply times, oldest first. */
  readonly #since = new Map<net.Socket, number>();

  /** Notes a reply to `socket`; true if it was not expected already. */
  add(socket: net.Socket): boolean {
    const known = this.#since.delete(socket);
    this.#since.set(socket, performance.now());
    return !known;
  }

  /** Forgets `socket`; true if its request was expected. */
  delete(socket: net.Socket): boolean {
    const cutoff = performance.now() - NEXT_REQUEST_EXPECTED_MS;
    const since = this.#since.get(socket);
    this.#since.delete(socket);
    return since !== undefined && since >= cutoff;
  }

  /** Clients whose next request is expected. */
  expected(): number {
    const cutoff = performance.now() - NEXT_REQUEST_EXPECTED_MS;
    for (const [socket, since] of this.#since) {
      if (since >= cutoff) break;
      this.#since.delete(socket);
    }
    return this.#since.size;
  }
}
