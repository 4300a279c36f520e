import { XenstoreClient } from '../../src/xenstore/client.ts';

/** How many watches to hold, over how many connections. */
export interface WatchLoad {
  readonly watches: number;
  readonly connections: number;
}

/** Watches held open on a daemon until `close()`. */
export interface Watchers {
  close(): Promise<void>;
}

/**
 * Registers `watches` watches, spread evenly over `connections` client connections, on paths
 * under `/bench/watched/` that no workload writes, so none of them ever fires: what they cost a
 * write is the daemon's work to find out that they do not match.
 */
export async function holdUnrelatedWatches(socketPath: string, load: WatchLoad): Promise<Watchers> {
  const clients: XenstoreClient[] = [];
  try {
    for (let c = 0; c < load.connections; c++) {
      clients.push(await XenstoreClient.connect({ socketPath }));
    }
    await Promise.all(
      Array.from({ length: load.watches }, (_, i) =>
        clients[i % load.connections]!.watch(`/bench/watched/${i % 100}/${i}`),
      ),
    );
  } catch (error) {
    await Promise.all(clients.map((client) => client.close()));
    throw error;
  }
  return { close: async () => void (await Promise.all(clients.map((client) => client.close()))) };
}
