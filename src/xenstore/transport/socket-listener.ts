import { lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { type BusyPoll, busyWaiter } from '../../event-loop/busy-poller.ts';
import { framedTransport } from './byte-stream.ts';
import type { XenstoreConnection, XenstoreService } from './transport.ts';

/** Where and as whom a unix-socket listener serves. */
export interface ListenOptions {
  /** The socket file (`XENSTORED_PATH` for the C tools). A stale socket there is replaced. */
  readonly path: string;
  /**
   * The domain every connection speaks for. Default 0: privileged, like C xenstored's socket. A
   * guest domid gives unprivileged connections homed at `/local/domain/<domid>`.
   */
  readonly domid?: number;
  /**
   * What the server does between answering a client and that client's next request: keep the
   * event loop turning (spin) or sleep until the request wakes it. Default `'adaptive'`: the
   * quicker of the two as measured (see `XenstoreClientOptions.busyPoll`); a spin never lasts
   * more than 0.1 ms without a request. `false` never spins; `true` always does.
   */
  readonly busyPoll?: BusyPoll;
}

/** A listening socket. */
export interface Listener {
  readonly path: string;
  /** Stops listening, drops this listener's connections and removes the socket file. */
  close(): Promise<void>;
}

/**
 * The server end of unix sockets: serves `server` on the socket `options.path`, each connection
 * framed as the client end frames it; resolves once it accepts connections.
 *
 * ```ts
 * const listener = await socketListener(server, { path: '/tmp/xs.sock' }); // dom0, privileged
 * ```
 */
export async function socketListener(
  server: XenstoreService,
  options: ListenOptions,
): Promise<Listener> {
  const { path } = options;
  const domid = options.domid ?? 0;
  removeStaleSocket(path);
  const sockets = new Set<net.Socket>();
  const busyPoll = options.busyPoll ?? 'adaptive';
  // Not tracked at all when never spinning: tracking reads the clock per request.
  const answered = busyPoll === false ? undefined : new AnsweredClients();
  const poller = busyWaiter(busyPoll, () => answered?.expected() ?? 0);
  // A guest socket speaks for a live domain: known from now on, refused once released.
  if (domid !== 0) server.domains.assume(domid);
  const netServer = net.createServer((socket) => {
    if (!server.domains.isIntroduced(domid)) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    // Replies to one chunk of requests leave in one write; events for other connections
    // (outside this chunk's handling) are written at once. One array serves every chunk.
    const batch: Uint8Array[] = [];
    let batching = false;
    let conn: XenstoreConnection | undefined;
    const transport = framedTransport(
      { onMessage: (message) => conn?.send(message), onClose: () => conn?.close() },
      (bytes) => {
        socket.on('data', (chunk) => {
          if (answered?.delete(socket)) poller.arrived();
          batching = true;
          try {
            bytes.onData(chunk);
          } finally {
            batching = false;
            const out = batch.length === 1 ? batch[0]! : Buffer.concat(batch);
            batch.length = 0;
            // A client that sends without reading its replies is not read from until it
            // catches up, so its replies cannot pile up without bound (C stops reading such a
            // client too).
            if (out.length > 0) {
              if (!socket.write(out)) socket.pause();
              else if (answered?.add(socket)) poller.expect();
            }
          }
        });
        socket.on('drain', () => socket.resume());
        socket.on('close', () => {
          sockets.delete(socket);
          answered?.delete(socket);
          bytes.onClose();
        });
        socket.on('error', () => socket.destroy());
        return {
          write: (frame) => {
            if (batching) batch.push(frame);
            else socket.write(frame);
          },
          close: () => socket.destroy(),
        };
      },
    );
    conn = server.connect({
      domid,
      privileged: domid === 0 ? true : undefined,
      onMessage: (message) => transport.send(message),
      onClose: () => socket.destroy(),
      backlog: () => socket.writableLength,
    });
  });
  await new Promise<void>((resolve, reject) => {
    netServer.once('error', reject);
    netServer.listen(path, () => {
      netServer.off('error', reject);
      resolve();
    });
  });
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        netServer.close(() => {
          removeStaleSocket(path);
          resolve();
        });
      }),
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

function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // Nothing there.
  }
}
