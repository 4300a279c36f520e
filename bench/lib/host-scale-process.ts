/**
 * One side of the `host.*` pairs (`bench/host.bench.ts`), in a process of its own: a host of
 * GUESTS guest domains, each a xenstore client on its own ring page, every one watching
 * `@releaseDomain`; then DEATHS of them die one after the other.
 *
 *   host-scale-process.ts xenwire|c GUESTS DEATHS
 *
 * - `xenwire`: `createSimulatedHost` in this process: hypervisor, xenstored and guests.
 * - `c`: the real C xenstored under the harness's shim, its guests' rings page files and their
 *   event channels datagram sockets (`src/conformance/guests.ts`); the guests' clients, the
 *   same xenwire client as on the other side, run in this process.
 *
 * The toolstack's steps are the same on both sides (`introduceGuest`, the simulated host's own:
 * INTRODUCE, the guest's home owned by it, its `domid` and console nodes), then the guest
 * connects over its ring. Prints one line of {@link HostScaleReport} JSON.
 *
 * The bench runs this file bundled (`bundleEntryPoint`), not through tsx.
 */
import { readFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';
import { ringGuests } from '../../src/conformance/guests.ts';
import { createSimulatedHost } from '../../src/host/index.ts';
import { introduceGuest } from '../../src/host/toolstack.ts';
import { socketConnector, type Watch, XenstoreClient } from '../../src/xenstore/index.ts';
import { startRealXenstored, xenInstall } from '../../tests/support/real-xenstored.ts';
import { processCpuSeconds } from './process-cpu.ts';

/** What one side reports. */
export interface HostScaleReport {
  /** Wall time to boot all guests. */
  readonly bootSeconds: number;
  /**
   * Proportional set size (shared pages split between the processes mapping them) each further
   * guest adds to every process of the host: the slope of readings from half to all of the
   * guests, each after a full garbage collection, so that what any host of that size has anyway
   * is left out. The Node process's young generation is left out too
   * ({@link youngBytesPerGuest}).
   */
  readonly bytesPerGuest: number;
  /**
   * What the Node process's young generation (V8's new space) grew by, per guest, over the same
   * span: left out of {@link bytesPerGuest}, since after a full collection it holds nothing, and
   * V8 sizes it by how fast the process has been allocating (up to 32 MiB), not by what it keeps.
   */
  readonly youngBytesPerGuest: number;
  /** The share of {@link bytesPerGuest} in the C daemon (absent for xenwire: one process). */
  readonly daemonBytesPerGuest?: number;
  /** Median wall time from a domain's death until every surviving guest's watch has fired. */
  readonly deathSeconds: number;
  /** CPU time of every process of the host per death (daemon and guests). */
  readonly hostCpuSecondsPerDeath: number;
  /** The C daemon's share of it (absent for xenwire). */
  readonly daemonCpuSecondsPerDeath?: number;
}

/** A host under test: boots guests, kills them, says what its processes weigh. */
interface Host {
  /** Boots the next guest; resolves to its client. */
  addGuest(domid: number): Promise<XenstoreClient>;
  /** Makes `domid` die as the hypervisor would, so that xenstored releases it. */
  kill(domid: number): Promise<void>;
  /** The toolstack's client. */
  readonly dom0: XenstoreClient;
  /** The C daemon's process, if there is one. */
  readonly daemonPid?: number;
  close(): Promise<void>;
}

/** Memory readings from half the guests to all of them, after the first. */
const MEMORY_STEPS = 8;

/** Longest a death may take to reach every guest before the run is called broken. */
const DEATH_TIMEOUT_MS = 60_000;

const [side, guestsArg, deathsArg] = process.argv.slice(2);
const guests = Number(guestsArg);
const deaths = Number(deathsArg);
if ((side !== 'xenwire' && side !== 'c') || !(guests >= 2) || !(deaths >= 1 && deaths < guests)) {
  throw new Error('usage: host-scale-process.ts xenwire|c GUESTS DEATHS');
}

const host = side === 'xenwire' ? await xenwireHost(guests) : await cHost();
try {
  process.stdout.write(`${JSON.stringify(await measure(host))}\n`);
} finally {
  await host.close();
}

async function measure(host: Host): Promise<HostScaleReport> {
  const clients = new Map<number, XenstoreClient>();
  const half = Math.floor(guests / 2);
  let bootSeconds = 0;
  const boot = async (from: number, to: number): Promise<void> => {
    const start = performance.now();
    for (let domid = from; domid <= to; domid++) clients.set(domid, await host.addGuest(domid));
    bootSeconds += (performance.now() - start) / 1000;
  };
  // Memory is read after every eighth of the guests from half on, and the growth per guest is
  // the slope through those readings: one reading is off by what the collector and the
  // allocators happen to hold at that moment, a few kilobytes per guest over 500 guests.
  await boot(1, half);
  const readings: { guests: number; memory: Memory }[] = [{ guests: half, memory: memory(host) }];
  for (let step = 1; step <= MEMORY_STEPS; step++) {
    const to = half + Math.round(((guests - half) * step) / MEMORY_STEPS);
    await boot(readings.at(-1)!.guests + 1, to);
    readings.push({ guests: to, memory: memory(host) });
  }

  await host.dom0.setPermissions('@releaseDomain', [{ access: 'r', domid: 0 }]);
  const fired = new Map<number, number>();
  const watches: Watch[] = [];
  await Promise.all(
    [...clients].map(async ([domid, client]) => {
      const watch = await client.watch('@releaseDomain');
      await watch[Symbol.asyncIterator]().next(); // the registration event
      fired.set(domid, 0);
      watch.on('event', () => fired.set(domid, fired.get(domid)! + 1));
      watches.push(watch);
    }),
  );

  const times: number[] = [];
  let hostCpu = 0;
  let daemonCpu = 0;
  for (let death = 0; death < deaths; death++) {
    const victim = guests - death;
    fired.delete(victim);
    const expected = new Map([...fired].map(([domid, count]) => [domid, count + 1]));
    const daemonBefore = host.daemonPid === undefined ? 0 : processCpuSeconds(host.daemonPid);
    const cpuBefore = process.cpuUsage();
    const start = performance.now();
    await host.kill(victim);
    await allFired(fired, expected);
    times.push((performance.now() - start) / 1000);
    const cpu = process.cpuUsage(cpuBefore);
    const daemon =
      host.daemonPid === undefined ? 0 : processCpuSeconds(host.daemonPid) - daemonBefore;
    daemonCpu += daemon;
    hostCpu += (cpu.user + cpu.system) / 1e6 + daemon;
    await clients.get(victim)!.close();
    clients.delete(victim);
  }

  const perGuest = (key: keyof Memory) =>
    slope(readings.map((reading) => [reading.guests, reading.memory[key]]));
  return {
    bootSeconds,
    bytesPerGuest: perGuest('total'),
    youngBytesPerGuest: perGuest('young'),
    ...(host.daemonPid === undefined
      ? {}
      : {
          daemonBytesPerGuest: perGuest('daemon'),
          daemonCpuSecondsPerDeath: daemonCpu / deaths,
        }),
    deathSeconds: times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!,
    hostCpuSecondsPerDeath: hostCpu / deaths,
  };
}

/** The least-squares slope of `y` over `x`. */
function slope(points: readonly (readonly [number, number])[]): number {
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / points.length;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / points.length;
  let covariance = 0;
  let variance = 0;
  for (const [x, y] of points) {
    covariance += (x - meanX) * (y - meanY);
    variance += (x - meanX) ** 2;
  }
  return covariance / variance;
}

/** Resolves once every guest's count has reached what `expected` says; rejects on a timeout. */
function allFired(fired: Map<number, number>, expected: Map<number, number>): Promise<void> {
  const deadline = performance.now() + DEATH_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const late = [...expected].filter(([domid, count]) => fired.get(domid)! < count);
      if (late.length === 0) resolve();
      else if (performance.now() > deadline) {
        reject(new Error(`${late.length} guests never saw @releaseDomain (first: ${late[0]![0]})`));
      } else setImmediate(check);
    };
    check();
  });
}

interface Memory {
  /** Every process of the host, less this process's young generation. */
  readonly total: number;
  readonly daemon: number;
  /** The resident part of this process's young generation. */
  readonly young: number;
}

function memory(host: Host): Memory {
  collectGarbage();
  const daemon = host.daemonPid === undefined ? 0 : proportionalSetSize(host.daemonPid);
  const young = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
  if (!young) throw new Error('V8 reports no new_space');
  const youngBytes = young.physical_space_size;
  return {
    total: proportionalSetSize(process.pid) - youngBytes + daemon,
    daemon,
    young: youngBytes,
  };
}

/**
 * `Pss` less `LazyFree` of `/proc/PID/smaps_rollup`, in bytes. Lazily freed pages (V8 gives back
 * the young generation's pages with `MADV_FREE`) stay in the set until the kernel needs them, but
 * they are free: the process has let them go.
 */
function proportionalSetSize(pid: number): number {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kilobytes = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(rollup);
    if (!match) throw new Error(`no ${field} in /proc/${pid}/smaps_rollup`);
    return Number(match[1]);
  };
  return (kilobytes('Pss') - kilobytes('LazyFree')) * 1024;
}

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('host-scale-process needs --expose-gc');
  gc();
  gc();
}

async function xenwireHost(guests: number): Promise<Host> {
  const simulated = await createSimulatedHost({ hypervisor: { maxDomains: guests + 1 } });
  return {
    dom0: simulated.dom0Client,
    addGuest: async (domid) => (await simulated.addGuest(domid)).client,
    kill: (domid) => simulated.destroyDomain(domid),
    close: () => simulated.close(),
  };
}

async function cHost(): Promise<Host> {
  if (!xenInstall) throw new Error('the Xen packages or the shim are unavailable');
  const daemon = await startRealXenstored(xenInstall);
  const rings = ringGuests(daemon.rundir);
  const dom0 = await XenstoreClient.connect({ transport: socketConnector(daemon.socketPath) });
  const clients = new Map<number, XenstoreClient>();
  return {
    dom0,
    daemonPid: daemon.pid,
    async addGuest(domid) {
      const { gfn, port } = await rings.prepare(domid);
      // These guests have no console: its port is written as 0.
      await introduceGuest(dom0, domid, gfn, { xenstore: port, console: 0 });
      const client = await XenstoreClient.connect({ transport: rings.connector(domid) });
      clients.set(domid, client);
      return client;
    },
    kill: (domid) => rings.destroy!(domid),
    async close() {
      for (const client of clients.values()) await client.close();
      await dom0.close();
      await daemon.stop();
      for (const domid of clients.keys()) await rings.dispose(domid);
    },
  };
}
