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
// The parent holds our stdin open; its end means the parent is gone. A `gc` line asks for a full
// garbage collection before the parent reads our resident memory; the heap then in use is the
// answer on stdout.
process.stdin.once('end', shutdown);
process.stdin.setEncoding('utf8').on('data', (text: string) => {
  for (const line of text.split('\n')) {
    if (line !== 'gc') continue;
    collectGarbage();
    const { heapUsed } = process.memoryUsage();
    process.stdout.write(`${JSON.stringify({ collected: true, heapUsed })}\n`);
  }
});
process.stdout.write(`${JSON.stringify({ socketPath })}\n`);

/** Full collections until the heap stops shrinking (one leaves what finalisers released). */
function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('the in-memory xenstored needs --expose-gc to collect on request');
  let used = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5 && process.memoryUsage().heapUsed < used; i++) {
    used = process.memoryUsage().heapUsed;
    gc();
  }
}
