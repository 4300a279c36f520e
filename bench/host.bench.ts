/**
 * A host as large as real ones: 1,000 guest domains, each a xenstore client on its own ring
 * page, every one watching `@releaseDomain` (dom0 lets all domains read it), then domains dying
 * one after the other.
 *
 * - `host.memory`: what one more guest costs the host, in memory: the proportional set size of
 *   every process of the host, grown between 500 and 1,000 guests (`bytesPerGuest`). The rate is
 *   its inverse, guests per MiB, so that the goal reads "at least as many guests per MiB as C".
 * - `host.death`: the cost of a domain's death: the time from the death until every surviving
 *   guest's watch has fired (median of 5 deaths), as deaths per second; `hostCpuMsPerDeath` is
 *   the CPU time every process of the host spent on it.
 *
 * Candidate: `createSimulatedHost`, one process holding the hypervisor, xenstored and the guests.
 * Baseline: the real C xenstored under the harness's shim, the guests' rings page files mapped by
 * both sides and their event channels datagram sockets, the guests' clients (the same xenwire
 * client) in a second process. Both sides make the same toolstack steps. Boot time rides along
 * as `bootSeconds`. `npm run bench -- --quick host` runs 100 guests and 2 deaths. The host
 * process runs bundled, as built code, on both sides; bench/README.md says what is counted.
 *
 * The shim's datagrams stay charged to xenstored's socket until each guest reads them, so one
 * event fanned out to 1,000 guests needs about a kilobyte of send buffer each: the C side is
 * skipped where `net.core.wmem_max` cannot give that.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isNativeAvailable } from '../src/device/index.ts';
import { bundleEntryPoint } from './lib/bundle.ts';
import type { HostScaleReport } from './lib/host-scale-process.ts';
import { firstJsonLine } from './lib/ts-child.ts';
import type { BenchPair, RunOptions, Sample } from './lib/types.ts';
import { prerequisite } from './lib/unavailable.ts';

const hostProcess = fileURLToPath(new URL('./lib/host-scale-process.ts', import.meta.url));

let bundled: Promise<string> | undefined;

/**
 * The host process as built code, bundled once per invocation into `.cache/bench/host/`: what
 * it weighs is then the sources' own objects, not tsx's additions (see `bundleEntryPoint`).
 */
function hostBundle(): Promise<string> {
  bundled ??= prerequisite('the host process bundle', () => bundleEntryPoint(hostProcess, 'host'));
  return bundled;
}

/** Send buffer the C daemon's event-channel socket needs per guest for a full fan-out. */
const SEND_BUFFER_PER_GUEST = 2048;

function shape(options: RunOptions): { guests: number; deaths: number } {
  return options.quick ? { guests: 100, deaths: 2 } : { guests: 1000, deaths: 5 };
}

/** Runs one side's host in a process of its own and reads its report. */
async function runHost(side: 'xenwire' | 'c', options: RunOptions): Promise<HostScaleReport> {
  const { guests, deaths } = shape(options);
  const child = spawn(
    process.execPath,
    ['--expose-gc', await hostBundle(), side, String(guests), String(deaths)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.stdin!.end();
  const report = await firstJsonLine<HostScaleReport>(child);
  const code = await exited;
  if (code !== 0) throw new Error(`host-scale-process ${side} exited with ${code}`);
  return report;
}

/** Why the C side cannot run here, if it cannot. */
async function cUnavailable(options: RunOptions): Promise<string | undefined> {
  try {
    const support = await prerequisite(
      'the xenstored harness',
      () => import('../tests/support/real-xenstored.ts'),
    );
    if (!support.xenInstall) return 'C xenstored: Xen packages or shim unavailable';
  } catch (error) {
    return (error as Error).message;
  }
  if (!isNativeAvailable()) return 'guest rings need the native addon (mmap, datagram sockets)';
  const needed = shape(options).guests * SEND_BUFFER_PER_GUEST;
  const allowed = Number(readFileSync('/proc/sys/net/core/wmem_max', 'utf8'));
  if (allowed < needed) {
    return `net.core.wmem_max is ${allowed}: the C daemon's kicks to all guests need ${needed}`;
  }
  return undefined;
}

/** Extra figures both pairs print: each side's whole report, in readable units. */
function extra(report: HostScaleReport): Record<string, number> {
  return {
    bootSeconds: report.bootSeconds,
    bytesPerGuest: report.bytesPerGuest,
    youngBytesPerGuest: report.youngBytesPerGuest,
    ...(report.daemonBytesPerGuest === undefined
      ? {}
      : { daemonBytesPerGuest: report.daemonBytesPerGuest }),
    deathMs: report.deathSeconds * 1000,
    hostCpuMsPerDeath: report.hostCpuSecondsPerDeath * 1000,
    ...(report.daemonCpuSecondsPerDeath === undefined
      ? {}
      : { daemonCpuMsPerDeath: report.daemonCpuSecondsPerDeath * 1000 }),
  };
}

function hostPair(
  id: string,
  title: string,
  unit: string,
  rate: (report: HostScaleReport) => number,
  anyCondition: boolean,
): BenchPair {
  let missing: string | undefined;
  const run =
    (side: 'xenwire' | 'c') =>
    async (options: RunOptions): Promise<Sample> => {
      const report = await runHost(side, options);
      return { rate: rate(report), extra: extra(report) };
    };
  return {
    id,
    title,
    unit,
    goal: { ratio: 1, direction: 'at-least' },
    anyCondition,
    // Every run boots a fresh host in a fresh process: there is nothing to warm.
    warmup: false,
    async setup(options) {
      missing = await cUnavailable(options);
    },
    unavailable: async () => missing,
    baseline: { label: 'C xenstored + guests', run: run('c') },
    candidate: { label: 'createSimulatedHost', run: run('xenwire') },
  };
}

const pairs: BenchPair[] = [
  hostPair(
    'host.memory',
    'Memory per guest of a 1,000-guest host (guests per MiB), vs C xenstored',
    'guests/MiB',
    // A slope at or below zero can only be noise (a quick run boots 100 guests): it counts as a
    // byte per guest, so that the run still reports rather than failing on a negative rate.
    (report) => 2 ** 20 / Math.max(report.bytesPerGuest, 1),
    true,
  ),
  hostPair(
    'host.death',
    'A death seen by 999 watching guests (deaths/s), vs C xenstored',
    'deaths/s',
    (report) => 1 / report.deathSeconds,
    false,
  ),
];

export default pairs;
