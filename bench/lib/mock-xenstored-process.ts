/**
 * Child process serving the in-memory xenstored on a unix socket, for workloads that drive it
 * from outside (the C client, or TS clients in the parent).
 *
 *   mock-xenstored-process.ts SOCKET [NODES WIDE_CHILDREN]
 *
 * With NODES, the store is first loaded with the large store (see `large-store.ts`). Prints
 * `{"socketPath": …}` once listening; SIGTERM, or the end of stdin, closes the socket and exits.
 */
import { XenstoreServer } from '../../src/xenstore/server/server.ts';
import { socketListener } from '../../src/xenstore/transport/socket-listener.ts';
import { largeStoreNodes } from './large-store.ts';

const [socketPath, nodes, wideChildren] = process.argv.slice(2);
if (!socketPath) throw new Error('usage: mock-xenstored-process.ts SOCKET [NODES WIDE_CHILDREN]');
const server = new XenstoreServer(
  nodes
    ? {
        seed: {
          nodes: largeStoreNodes({ nodes: Number(nodes), wideChildren: Number(wideChildren) }),
        },
      }
    : {},
);
const listener = await socketListener(server, { path: socketPath });
const shutdown = (): void => {
  void listener.close().then(() => process.exit(0));
};
process.once('SIGTERM', shutdown);
// The parent holds our stdin open; its end means the parent is gone.
process.stdin.once('end', shutdown).resume();
process.stdout.write(`${JSON.stringify({ socketPath })}\n`);
