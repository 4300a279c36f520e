import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BusyPoll } from '../../src/xenstore/index.ts';
import { compileC } from './c-program.ts';
import type { LargeStoreShape } from './large-store.ts';
import { firstJsonLine, spawnTs } from './ts-child.ts';
import { prerequisite, Unavailable } from './unavailable.ts';
import { locateXenRoot } from './xs-loop.ts';

/** A xenstore daemon serving a unix socket for one pair. */
export interface XenstoreDaemon {
  readonly socketPath: string;
  /** Its process, whose CPU time and memory the bench reads. */
  readonly pid: number;
  /**
   * Has a garbage-collected daemon collect everything it no longer holds, so that its resident
   * memory is what it holds; resolves to the bytes of heap then in use (absent for the C
   * daemons, which free as they go).
   */
  readonly collectGarbage?: () => Promise<number>;
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
  return { socketPath: daemon.socketPath, pid: daemon.pid, stop: () => daemon.stop() };
}

const mockProcess = fileURLToPath(new URL('./mock-xenstored-process.ts', import.meta.url));

/** How to start the in-memory xenstored. */
export interface MockOptions {
  /** Load the large store of this shape first (default: an empty store). */
  readonly large?: LargeStoreShape;
  /** The listener's `busyPoll` (default: the listener's default). */
  readonly busyPoll?: BusyPoll;
}

/** Starts the in-memory xenstored in its own Node process on a fresh socket. */
export async function startMockXenstored(options: MockOptions = {}): Promise<XenstoreDaemon> {
  const directory = await mkdtemp(join(tmpdir(), 'xenwire-bench-mock-'));
  const child = spawnTs(mockProcess, [join(directory, 'socket'), JSON.stringify(options)]);
  return daemonProcess(child, directory, (socketPath) => {
    const collectGarbage = async (): Promise<number> => {
      const collected = firstJsonLine<{ heapUsed: number }>(child);
      child.stdin!.write('gc\n');
      return (await collected).heapUsed;
    };
    return { socketPath, pid: child.pid!, collectGarbage };
  });
}

const nullSource = fileURLToPath(new URL('../c/null-xenstored.c', import.meta.url));

/**
 * Starts `bench/c/null-xenstored.c` on a fresh socket: a daemon that answers every request at
 * once and does nothing else, the most any daemon can give a client.
 */
export async function startNullXenstored(): Promise<XenstoreDaemon> {
  const binary = await prerequisite('the null xenstored (gcc and the Xen headers)', async () =>
    compileC({
      source: nullSource,
      name: 'null-xenstored',
      includeDirs: [join(await locateXenRoot(), 'usr/include')],
    }),
  );
  const directory = await mkdtemp(join(tmpdir(), 'xenwire-bench-null-'));
  // stdin stays open as a lifeline: the daemon exits when it closes.
  const child = spawn(binary, [join(directory, 'socket')], { stdio: ['pipe', 'pipe', 'inherit'] });
  return daemonProcess(child, directory, (socketPath) => ({ socketPath, pid: child.pid! }));
}

/**
 * A daemon `child` that prints `{"socketPath":…}` once it listens, on a socket in `directory`,
 * which goes with it when it is stopped.
 */
async function daemonProcess(
  child: ChildProcess,
  directory: string,
  describe: (socketPath: string) => Omit<XenstoreDaemon, 'stop'>,
): Promise<XenstoreDaemon> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(directory, { recursive: true, force: true });
  };
  try {
    const { socketPath } = await firstJsonLine<{ socketPath: string }>(child);
    return { ...describe(socketPath), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
