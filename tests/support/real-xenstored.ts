import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const harnessDir = fileURLToPath(new URL('../../harness/', import.meta.url));

/** Port at which the shim binds VIRQ_DOM_EXC (harness/README.md). */
export const VIRQ_DOM_EXC_PORT = 4095;

/**
 * The sets of harness/pins holding a Xen 4.17 userland: `xen` is what the harness runs,
 * `xen-4.17.5` an older build of the daemon's packages (no headers, no pyxs).
 */
export const XEN_PACKAGE_SETS = ['xen', 'xen-4.17.5'] as const;

/** One of {@link XEN_PACKAGE_SETS}. */
export type XenPackageSet = (typeof XEN_PACKAGE_SETS)[number];

/** The unpacked Xen 4.17 userland: where the daemon, its tools and libraries are. */
export interface XenInstall {
  /** The pinned package set it was unpacked from. */
  set: XenPackageSet;
  /** Root of the unpacked Debian packages. */
  root: string;
  /** `libxen*.so`, for `LD_LIBRARY_PATH`. */
  libDir: string;
  /** `xenstored`, `test-xenstore`. */
  xenBinDir: string;
  /** `xenstore-read` and the other `xenstore-*` tools. */
  toolDir: string;
  /** pyxs, for `PYTHONPATH`. */
  pythonPath: string;
}

/** Thrown when the real daemon is required (`CI=true`) but cannot be had. */
export class RealXenstoredUnavailableError extends Error {
  readonly code = 'ENOENT';
}

function runHarnessScript(script: string, args: string[] = []): string {
  const result = spawnSync(join(harnessDir, script), args, { encoding: 'utf8' });
  if (result.status !== 0) {
    const detail = (result.stderr || result.error?.message || `exit ${result.status}`).trim();
    throw new RealXenstoredUnavailableError(`${script} failed: ${detail}`);
  }
  return result.stdout.trim().split('\n').at(-1) ?? '';
}

function locateXen(set: XenPackageSet): XenInstall {
  const root = runHarnessScript('fetch-packages.sh', [set]);
  runHarnessScript('shim/build.sh');
  return {
    set,
    root,
    libDir: join(root, 'usr/lib/x86_64-linux-gnu'),
    xenBinDir: join(root, 'usr/lib/xen-4.17/bin'),
    toolDir: join(root, 'usr/bin'),
    pythonPath: join(root, 'usr/lib/python3/dist-packages'),
  };
}

/**
 * The Xen userland of package set `set`, fetched (by the exact versions harness/pins lists) and
 * the shim built; `undefined` (after a loud warning) when it cannot be had locally. Under
 * `CI=true` it throws instead, so a suite that needs the daemon can never be skipped silently on
 * CI.
 */
export function findXenInstall(set: XenPackageSet): XenInstall | undefined {
  try {
    return locateXen(set);
  } catch (error) {
    if (process.env.CI === 'true') throw error;
    console.warn(
      `\n*** SKIPPING tests that need the real C xenstored (${set}): ${(error as Error).message}\n` +
        `*** (run harness/fetch-packages.sh ${set} with Debian registry access; under CI=true this fails)\n`,
    );
    return undefined;
  }
}

/** The harness's Xen userland (package set `xen`), found on first import ({@link findXenInstall}). */
export const xenInstall: XenInstall | undefined = findXenInstall('xen');

/** Environment for libxenstore tools, test-xenstore and pyxs talking to `socketPath`. */
export function clientEnv(install: XenInstall, socketPath: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    XENSTORED_PATH: socketPath,
    LD_LIBRARY_PATH: install.libDir,
    PYTHONPATH: install.pythonPath,
  };
}

/** A fake guest domain: its ring page file and the event-channel port it was introduced with. */
export interface FakeGuest {
  domid: number;
  port: number;
  /** The guest's xenstore ring page (shared with the daemon once introduced). */
  pagePath: string;
  /** Payload of the INTRODUCE request dom0 must send for this guest. */
  introducePayload: Buffer;
}

/** A private xenstored (C or OCaml) under the shim. */
export interface RealXenstored {
  socketPath: string;
  /** The shim directory, also the daemon's rundir. */
  rundir: string;
  pid: number;
  /** Environment for clients of this daemon (see {@link clientEnv}). */
  env: NodeJS.ProcessEnv;
  /**
   * Make domain `domid` exist with a zeroed ring page. It becomes a xenstore guest when dom0
   * sends INTRODUCE with `introducePayload`. `port` must be unique per daemon, in 1..4094,
   * and not 1 (dom0's).
   */
  createGuest(domid: number, port: number): Promise<FakeGuest>;
  /** Make domain `domid` vanish and raise VIRQ_DOM_EXC, so the daemon releases it. */
  destroyGuest(domid: number): Promise<void>;
  /** Send one event-channel datagram (a port number) to the daemon. */
  kick(port: number): void;
  /** False once the daemon has exited (or was killed). */
  isRunning(): boolean;
  /** True once the daemon has exited, within `ms`; false if it still runs then. */
  exited(ms: number): Promise<boolean>;
  /** What the daemon wrote to its log (C xenstored: its stdout and stderr, assertions included). */
  readLog(): Promise<string>;
  /** Ends the daemon (SIGTERM, then SIGKILL if it has not exited after a while). */
  stop(): Promise<void>;
}

// Daemons this process started and has not stopped. They are not our children (the start script
// detaches them), so a test process that exits without stopping one would leave it running.
const running = new Set<number>();
process.on('exit', () => {
  for (const pid of running) signal(pid, 'SIGTERM');
});

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

/** The daemon is not our child, so once dead it may linger as a zombie nobody reaps. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** How long a daemon may take to exit after SIGTERM before it is killed. */
const STOP_GRACE_MS = 2000;

async function stopProcess(pid: number): Promise<void> {
  signal(pid, 'SIGTERM');
  // A hung or stopped (SIGSTOP) daemon does not act on SIGTERM.
  if (await exitWithin(pid, STOP_GRACE_MS)) return;
  signal(pid, 'SIGKILL');
  await exitWithin(pid, Number.POSITIVE_INFINITY);
}

/** Polls until `pid` has exited (true) or `ms` have passed (false). */
async function exitWithin(pid: number, ms: number): Promise<boolean> {
  const giveUpAt = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > giveUpAt) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

/** Sends one 4-byte little-endian datagram; Node itself has no unix datagram sockets. */
function sendDatagram(socketPath: string, port: number): void {
  const result = spawnSync(
    'python3',
    [
      '-c',
      'import socket,struct,sys\n' +
        's=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\n' +
        's.sendto(struct.pack("<I",int(sys.argv[2])),sys.argv[1])',
      socketPath,
      String(port),
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`event-channel kick failed: ${result.stderr}`);
}

/** Xen 4.17's two daemons: the C `xenstored` (the reference) and the OCaml `oxenstored`. */
export type DaemonFlavour = 'xenstored' | 'oxenstored';

/**
 * Whether oxenstored can run here: it needs a private mount namespace (`unshare -m`, so
 * CAP_SYS_ADMIN). It is an optional second reference, so its absence only skips (loudly).
 */
export const oxenstoredAvailable: boolean = (() => {
  if (!xenInstall) return false;
  const available = spawnSync('unshare', ['-m', 'true']).status === 0;
  if (!available) {
    console.warn('\n*** SKIPPING oxenstored suites: unshare -m is not permitted here\n');
  }
  return available;
})();

/**
 * Start a private daemon (C xenstored unless told otherwise) on a temporary socket, wait until it
 * answers, and hand back a handle. Each call starts its own daemon; call `stop()` when done.
 * `rundir` reuses a shim directory, so that the daemon answers on the same socket path as the
 * one that ran there before (e.g. to bring back a daemon that was killed).
 */
export async function startRealXenstored(
  install: XenInstall,
  flavour: DaemonFlavour = 'xenstored',
  rundir?: string,
): Promise<RealXenstored> {
  rundir ??= await mkdtemp(join(tmpdir(), `xenwire-${flavour}-`));
  const socketPath = runHarnessScript(`start-${flavour}.sh`, ['-s', install.set, rundir]);
  const pid = Number((await readFile(join(rundir, 'xenstored.pid'), 'utf8')).trim());
  running.add(pid);
  const pagePath = (domid: number) => join(rundir, `dom${domid}.page`);
  const kick = (port: number) => sendDatagram(join(rundir, 'evtchn.sock'), port);
  return {
    socketPath,
    rundir,
    pid,
    env: clientEnv(install, socketPath),
    kick,
    async createGuest(domid, port) {
      const path = pagePath(domid);
      await writeFile(path, '');
      await truncate(path, 4096);
      return {
        domid,
        port,
        pagePath: path,
        introducePayload: Buffer.from(`${domid}\0${domid}\0${port}\0`),
      };
    },
    async destroyGuest(domid) {
      await unlink(pagePath(domid));
      kick(VIRQ_DOM_EXC_PORT);
    },
    isRunning: () => isAlive(pid),
    exited: (ms) => exitWithin(pid, ms),
    async readLog() {
      return readFile(join(rundir, 'xenstored.log'), 'utf8').catch(() => '');
    },
    async stop() {
      await stopProcess(pid);
      running.delete(pid);
      if (existsSync(rundir)) await rm(rundir, { recursive: true, force: true });
    },
  };
}
