import { createWriteStream, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { dom0Tree, guestTree } from './server/dom0-tree.ts';
import type { DumpedNode, StoreDump } from './server/persistence.ts';
import { type ServerOptions, XenstoreServer } from './server/server.ts';
import { type Listener, socketListener } from './transport/socket-listener.ts';

/**
 * Options of {@link serve}.
 * @category Server
 */
export interface ServeOptions extends Omit<ServerOptions, 'seed' | 'trace'> {
  /** The privileged (dom0) socket; default `xenstored.sock` in the working directory. */
  readonly socketPath?: string;
  /** A JSON store dump to start from instead of the realistic Dom0 tree. */
  readonly seedFile?: string;
  /**
   * A xenstore migration stream to start from instead (`xenwire snapshot`, C xenstored's live
   * update): its tree, domains and guests' watches. Its socket connections belonged to another
   * process and are dropped with their watches.
   */
  readonly migrationStreamFile?: string;
  /** Initial content instead of the Dom0 tree (ignored when `seedFile` is given). */
  readonly seed?: StoreDump;
  /** Guest domains to create and introduce at start. */
  readonly guestDomains?: readonly number[];
  /** Where each guest gets a socket `dom<N>.sock` whose every connection is domain N. */
  readonly guestSocketDir?: string;
  /** A file receiving a JSON-lines trace of every message, or a trace sink. */
  readonly trace?: string | ServerOptions['trace'];
}

/**
 * A running server with its sockets.
 * @category Server
 */
export interface Served {
  /** The daemon behind the sockets. */
  readonly server: XenstoreServer;
  /** The Domain-0 (privileged) socket. */
  readonly socketPath: string;
  /** Guest sockets by domid. */
  readonly guestSockets: ReadonlyMap<number, string>;
  /** Closes every socket (removing the files) and every connection. */
  close(): Promise<void>;
}

/**
 * The daemon and its listeners put together: starts a server on unix sockets, as `npm start`
 * and `xenwire serve` do — the dom0 socket, and one socket per guest domain when asked.
 * @category Server
 */
export async function serve(options: ServeOptions = {}): Promise<Served> {
  const socketPath = resolve(options.socketPath ?? 'xenstored.sock');
  const guests = options.guestDomains ?? [];
  const seed: StoreDump = options.seedFile
    ? (JSON.parse(readFileSync(options.seedFile, 'utf8')) as StoreDump)
    : (options.seed ?? { nodes: dom0Tree() });
  const guestNodes: DumpedNode[] = guests.flatMap((domid) => guestTree(domid));
  const traceStream =
    typeof options.trace === 'string'
      ? createWriteStream(options.trace, { flags: 'a' })
      : undefined;
  // The guests exist before the toolstack writes their nodes, as on a real host. Ports only need
  // to be distinct; 1 is dom0's.
  const guestDomains = guests.map((domid, i) => ({ domid, gfn: '0', port: 2 + i }));
  const serverOptions = {
    ...options,
    trace: traceStream ?? (typeof options.trace === 'string' ? undefined : options.trace),
  };
  const server = options.migrationStreamFile
    ? loadStream(options.migrationStreamFile, serverOptions)
    : new XenstoreServer({
        ...serverOptions,
        seed: {
          ...seed,
          nodes: [...seed.nodes, ...guestNodes],
          domains: [...(seed.domains ?? []), ...guestDomains],
        },
      });
  const listeners: Listener[] = [await socketListener(server, { path: socketPath })];
  const guestSockets = new Map<number, string>();
  try {
    if (options.guestSocketDir) {
      for (const domid of guests) {
        const path = resolve(options.guestSocketDir, `dom${domid}.sock`);
        listeners.push(await socketListener(server, { path, domid }));
        guestSockets.set(domid, path);
      }
    }
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    throw err;
  }
  return {
    server,
    socketPath,
    guestSockets,
    close: async () => {
      await Promise.all(listeners.map((l) => l.close()));
      server.close();
      if (traceStream) await new Promise<void>((done) => traceStream.end(done));
    },
  };
}

function loadStream(file: string, options: ServerOptions): XenstoreServer {
  const server = XenstoreServer.fromMigrationStream(readFileSync(file), options);
  for (const restored of server.restoredConnections()) {
    if (restored.kind === 'socket')
      server.resumeConnection(restored.connId, { onMessage() {} }).close();
  }
  return server;
}
