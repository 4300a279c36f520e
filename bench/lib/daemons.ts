import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LargeStoreShape } from './large-store.ts';
import { firstJsonLine, spawnTs } from './ts-child.ts';
import { prerequisite, Unavailable } from './unavailable.ts';

/** A xenstore daemon serving a unix socket for one pair. */
export interface XenstoreDaemon {
  readonly socketPath: string;
  stop(): Promise<void>;
}

/** Xen 4.17's own daemons: the C xenstored, and the OCaml oxenstored. */
export type RealDaemon = 'xenstored' | 'oxenstored';

/**
 * Starts a private Xen 4.17 daemon under the harness's LD_PRELOAD shim. The harness helper
 * fetches the packages and builds the shim when first imported, so it is imported here, lazily,
 * rather than by every bench file that is merely discovered.
 */
export async function startRealDaemon(flavour: RealDaemon): Promise<XenstoreDaemon> {
  const support = await prerequisite(
    'the xenstored harness',
    () => import('../../tests/support/real-xenstored.ts'),
  );
  const install = support.xenInstall;
  if (!install) throw new Unavailable(`${flavour}: Xen packages or shim unavailable`);
  if (flavour === 'oxenstored' && !support.oxenstoredAvailable) {
    throw new Unavailable('oxenstored needs a private mount namespace (unshare -m), refused here');
  }
  const daemon = await prerequisite(flavour, () => support.startRealXenstored(install, flavour));
  return { socketPath: daemon.socketPath, stop: () => daemon.stop() };
}

const mockProcess = fileURLToPath(new URL('./mock-xenstored-process.ts', import.meta.url));

/**
 * Starts the in-memory xenstored in its own Node process on a fresh socket, optionally loaded
 * with the large store first.
 */
export async function startMockXenstored(large?: LargeStoreShape): Promise<XenstoreDaemon> {
  const directory = await mkdtemp(join(tmpdir(), 'xenwire-bench-mock-'));
  const args = [join(directory, 'socket')];
  if (large) args.push(String(large.nodes), String(large.wideChildren));
  const child = spawnTs(mockProcess, args);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(directory, { recursive: true, force: true });
  };
  try {
    const { socketPath } = await firstJsonLine<{ socketPath: string }>(child);
    return { socketPath, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
