/**
 * Child process serving the in-memory xenstored on a unix socket, for workloads that drive it
 * from outside (the C loop, or the TypeScript client in processes of their own).
 *
 *   mock-xenstored-process.ts SOCKET [OPTIONS]
 *
 * OPTIONS is {@link MockOptions} as JSON: with `large`, the store is first loaded with the large
 * store (see `large-store.ts`); `busyPoll` is the listener's. Prints `{"socketPath": …}` once
 * listening; SIGTERM, or the end of stdin, closes the socket and exits.
 */
import { socketListener, XenstoreServer } from '../../src/xenstore/server.ts';
import type { MockOptions } from './daemons.ts';
import { largeStoreNodes } from './large-store.ts';

const [socketPath, json] = process.argv.slice(2);
if (!socketPath) throw new Error('usage: mock-xenstored-process.ts SOCKET [OPTIONS]');
const options = (json ? JSON.parse(json) : {}) as MockOptions;
const server = new XenstoreServer(
  options.large ? { seed: { nodes: largeStoreNodes(options.large) } } : {},
);
const listener = await socketListener(server, {
  path: socketPath,
  ...(options.busyPoll === undefined ? {} : { busyPoll: options.busyPoll }),
});
const shutdown = (): void => {
  void listener.close().then(() => process.exit(0));
};
process.once('SIGTERM', shutdown);
// The parent holds our stdin open; its end means the parent is gone.
process.stdin.once('end', shutdown).resume();
process.stdout.write(`${JSON.stringify({ socketPath })}\n`);
