import { fileURLToPath } from 'node:url';
import { firstJsonLine, spawnTs } from './ts-child.ts';

const holderProcess = fileURLToPath(new URL('./watch-holder-process.ts', import.meta.url));

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
 * Registers `watches` watches, spread evenly over `connections` client connections held by a
 * process of their own, on paths under `/bench/watched/` that no workload writes, so none of
 * them ever fires: what they cost a write is the daemon's work to find out that they do not
 * match.
 */
export async function holdUnrelatedWatches(socketPath: string, load: WatchLoad): Promise<Watchers> {
  const child = spawnTs(holderProcess, [
    socketPath,
    String(load.watches),
    String(load.connections),
  ]);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async (): Promise<void> => {
    child.stdin!.end();
    await exited;
  };
  try {
    await firstJsonLine(child);
  } catch (error) {
    await close();
    throw error;
  }
  return { close };
}
