/**
 * Child process holding watches open on a daemon (see `watchers.ts`), so that the bench's own
 * process holds no connection while it measures.
 *
 *   watch-holder-process.ts SOCKET WATCHES CONNECTIONS
 *
 * Prints `{"watching": WATCHES}` once every watch is registered; the end of stdin closes the
 * connections and exits.
 */
import { XenstoreClient } from '../../src/xenstore/index.ts';

const [socketPath, watches, connections] = process.argv.slice(2);
if (!socketPath || !watches || !connections) {
  throw new Error('usage: watch-holder-process.ts SOCKET WATCHES CONNECTIONS');
}
const clients: XenstoreClient[] = [];
for (let c = 0; c < Number(connections); c++) {
  clients.push(await XenstoreClient.connect({ socketPath }));
}
// Paths no workload writes: none of them ever fires.
await Promise.all(
  Array.from({ length: Number(watches) }, (_, i) =>
    clients[i % clients.length]!.watch(`/bench/watched/${i % 100}/${i}`),
  ),
);
process.stdin.once('end', () => {
  void Promise.all(clients.map((client) => client.close())).then(() => process.exit(0));
});
process.stdin.resume();
process.stdout.write(`${JSON.stringify({ watching: Number(watches) })}\n`);
