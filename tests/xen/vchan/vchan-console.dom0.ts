/**
 * libxenvchan and the PV console on real Xen, in one PV DomU life cycle, from Dom0:
 *
 * 0. while the DomU is created and boots, a libxenvchan end's process is killed under its peer,
 *    both ways between xenwire and the C library, in Dom0 (process-death.ts);
 * 1. the DomU (build.mjs's image) is created paused; xenwire's console backend attaches to
 *    its console (xenconsoled is stopped by run-in-dom0.sh: one backend per console); the DomU
 *    is unpaused, its /init prints a marker and runs a shell on hvc0;
 * 2. console: the marker is read, a command is typed whose answer only a shell gives
 *    (`echo console-echo-$((6*7))` → `console-echo-42`);
 * 3. libxenvchan, 10 MiB each way at once per pair (`XEN_LANE_VCHAN_BYTES`) in five rounds, Dom0
 *    the server, the DomU's clients run in turn by one program typed into its shell: xenwire's
 *    server ↔ Xen's `vchan-socket-proxy` client, Xen's on both ends (the baseline), Xen's server
 *    ↔ xenwire's client, every other round in reverse order; the hashes each side saw must match
 *    what the other sent; prints each pair's median MiB/s per direction and xenwire/C ratios (the
 *    median of each round's ratio to the C pair's round beside it);
 * 4. `poweroff -f` on the console: the console must end with the domain.
 *
 * Run inside the lane's Dom0 session, through run-in-dom0.sh, bundled (build.mjs) beside
 * server-child.dom0.ts's bundle. Exits 0 when every step passes.
 */
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { median, pairedRatios } from '../../../bench/lib/stats.ts';
import { openConsole } from '../../../src/console/index.ts';
import { openVchanServer, vchanPath } from '../../../src/vchan/index.ts';
import { xenPlatform } from '../../../src/xenbus/index.ts';
import { XenstoreClient } from '../../../src/xenstore/index.ts';
import { check, dom0Session } from '../support/dom0-session.ts';
import { type CTools, startCPeer } from './c-peer.ts';
import { ConsoleShell, typeUntilAnswered } from './console-shell.ts';
import { checkProcessDeath } from './process-death.ts';
import { type Digest, type Received, receive, sendRandom } from './transfer.ts';

const MB = 1024 * 1024;
/** Bytes each way per pair, over all its rounds (fewer for a quicker look while working). */
const BYTES = Number(process.env.XEN_LANE_VCHAN_BYTES || 10 * MB);
/** Rounds of each pair; see {@link runPairs}. */
const ROUNDS = 5;
/** Each pair's transfers in a round. */
const ROUND_BYTES = Math.ceil(BYTES / ROUNDS);
const { xl, step, guestConfig, tools, libs } = dom0Session('vchan');
const cTools: CTools = { proxy: `${tools}/vchan-socket-proxy`, libraryPath: libs };

type Kind = 'xenwire' | 'c';
interface PairResult {
  readonly name: string;
  /** MiB/s, the median of the pair's rounds, as timed by each receiver. */
  readonly toDomU: number;
  readonly toDom0: number;
  /** MiB/s of each round, in run order. */
  readonly rounds: { readonly toDomU: readonly number[]; readonly toDom0: readonly number[] };
  /** CPU seconds the DomU spent per round, the median of the rounds. */
  readonly domUCpu: number;
}

/** One round of a pair: seconds each direction took, as timed by its receiver. */
interface RoundTimes {
  readonly name: string;
  readonly toDomU: number;
  readonly toDom0: number;
  /** CPU seconds the DomU spent on its end of the round. */
  readonly domUCpu: number;
}

/** What the DomU's peer reports. */
interface DomUReport {
  readonly sent: Digest;
  readonly received: Received;
  /** CPU seconds the DomU's client program spent on the pair (its C proxy included). */
  readonly cpu: number;
}

/** Dom0's server end of one pair: its transfer, and how it closes. */
interface Dom0End {
  readonly sent: Promise<Digest>;
  readonly received: Promise<Received>;
  close(): Promise<void>;
}

async function xenwireServer(
  client: XenstoreClient,
  domid: number,
  path: string,
): Promise<Dom0End> {
  // Ring sizes as the C server picks them for vchan-socket-proxy (0, 0: 1 KiB in, 2 KiB out), so
  // that every pair moves data through the same rings.
  const stream = await openVchanServer({ client, platform, peerDomid: domid, path });
  const closed = once(stream, 'close');
  return {
    sent: sendRandom(stream, ROUND_BYTES),
    received: receive(stream, ROUND_BYTES),
    async close() {
      stream.end();
      stream.resume();
      await closed;
    },
  };
}

function cServer(domid: number, path: string): Dom0End {
  const peer = startCPeer(cTools, 'server', domid, path, ROUND_BYTES);
  return {
    sent: peer.sent,
    received: peer.received,
    async close() {
      peer.close();
      const status = await peer.exited;
      check(status === 0, `vchan-socket-proxy server exited ${status}: ${peer.stderr()}`);
    },
  };
}

/** The domid of the domain named `name`, once xenstored has it (watching `@introduceDomain`). */
async function domainNamed(client: XenstoreClient, name: string): Promise<number> {
  const watch = await client.watch('@introduceDomain');
  try {
    for await (const _ of watch) {
      for (const id of await client.directory('/local/domain')) {
        const found = await client.readString(`/local/domain/${id}/name`).catch(() => '');
        if (found === name) return Number(id);
      }
    }
    throw new Error(`the watch for domain ${name} ended`);
  } finally {
    await watch.close();
  }
}

async function runPair(
  shell: ConsoleShell,
  client: XenstoreClient,
  domid: number,
  path: string,
  from: number,
  dom0: Kind,
  domu: Kind,
): Promise<RoundTimes> {
  const name = `${dom0 === 'c' ? 'C' : 'xenwire'} server in Dom0 + ${domu === 'c' ? 'C' : 'xenwire'} client in DomU`;
  step(`pair '${name}'`);
  const end = dom0 === 'xenwire' ? await xenwireServer(client, domid, path) : cServer(domid, path);
  // One DomU program runs the clients in turn, tagging its lines with each one's path.
  const tagged = (kind: string, rest: string) =>
    new RegExp(`@@vchan-${kind} ${path.replaceAll('/', '\\/')} ${rest}@@`);
  const done = new AbortController();
  const failed = shell
    .waitFor(tagged('failed', '(.*?)'), 900_000, from, done.signal)
    .then((match) => {
      throw new Error(`the DomU's ${domu} client failed: ${match[1]}`);
    });
  // Once this pair is over, its watch for a failure ends quietly.
  failed.catch(() => {});
  try {
    const [sent, received] = await Promise.race([Promise.all([end.sent, end.received]), failed]);
    // Close only once the DomU has everything too: a libxenvchan close ends both directions.
    await Promise.race([shell.waitFor(tagged('received', '(\\d+)'), 900_000, from), failed]);
    await end.close();
    const reportLine = await Promise.race([
      shell.waitFor(tagged('result', '(\\{.*?\\})'), 120_000, from),
      failed,
    ]);
    const report = JSON.parse(reportLine[1] as string) as DomUReport;
    check(
      received.bytes === ROUND_BYTES && received.sha256 === report.sent.sha256,
      `${name}: DomU -> Dom0 data`,
    );
    check(
      report.received.bytes === ROUND_BYTES && report.received.sha256 === sent.sha256,
      `${name}: Dom0 -> DomU data`,
    );
    const result = {
      name,
      toDomU: report.received.seconds,
      toDom0: received.seconds,
      domUCpu: report.cpu,
    };
    const rate = (seconds: number) => (ROUND_BYTES / MB / seconds).toFixed(2);
    step(
      `pair '${name}' passed: Dom0 -> DomU ${rate(result.toDomU)} MiB/s, ` +
        `DomU -> Dom0 ${rate(result.toDom0)} MiB/s, DomU CPU ${result.domUCpu} s, hashes equal`,
    );
    return result;
  } finally {
    done.abort();
  }
}

/**
 * The three pairs one after the other, the C pair in the middle, in five rounds, every other one
 * in reverse order; each pair's rate per direction is the median of its five. One after the
 * other: the DomU has one vCPU, and pairs at once would measure how its scheduler shares it out
 * rather than the protocol ends. Reversed rounds: the host's load drifts over the minutes the
 * pairs take, and with each pair as early on average as the others, a steady drift weighs on all
 * three alike. Medians: a burst of other work on the shared host can slow one round several times
 * over (one at 0.11 MiB/s among rounds at 0.7-1.0 in the same run; the first round after the
 * DomU's boot was the usual victim), and a rate over all rounds took that burst for the pair's.
 */
async function runPairs(shell: ConsoleShell, client: XenstoreClient, domid: number) {
  const pairs: [Kind, Kind][] = [
    ['xenwire', 'c'],
    ['c', 'c'],
    ['c', 'xenwire'],
  ];
  const order = Array.from({ length: ROUNDS }, (_, round) =>
    round % 2 === 0 ? [0, 1, 2] : [2, 1, 0],
  ).flat();
  const runs = order.map((pair, i) => ({ pair, path: vchanPath(0, domid, i + 1) }));
  const from = shell.text.length;
  const specs = runs.map(({ pair, path }) => `${pairs[pair]?.[1]}-client:${path}`);
  shell.type(`node peer.mjs 0 ${ROUND_BYTES} ${specs.join(' ')}`);
  const rounds: RoundTimes[][] = pairs.map(() => []);
  for (const { pair, path } of runs) {
    const [dom0, domu] = pairs[pair] as [Kind, Kind];
    rounds[pair]?.push(await runPair(shell, client, domid, path, from, dom0, domu));
  }
  const rates = (times: RoundTimes[], direction: 'toDomU' | 'toDom0'): number[] =>
    times.map((round) => ROUND_BYTES / MB / round[direction]);
  return rounds.map((times): PairResult => {
    const toDomU = rates(times, 'toDomU');
    const toDom0 = rates(times, 'toDom0');
    return {
      name: times[0]?.name ?? '',
      toDomU: median(toDomU),
      toDom0: median(toDom0),
      rounds: { toDomU, toDom0 },
      domUCpu: median(times.map((round) => round.domUCpu)),
    };
  }) as [PairResult, PairResult, PairResult];
}

/**
 * xenwire's pair against the C pair, per direction: the median of each round's ratio to the C
 * pair's round run right beside it. A ratio of two medians compares rounds up to a minute apart,
 * and on a busy host it put the same code anywhere from 0.5x to 2.7x; two rounds seconds apart
 * see the same host.
 */
function versusC(pair: PairResult, cPair: PairResult, direction: 'toDomU' | 'toDom0') {
  return pairedRatios(cPair.rounds[direction], pair.rounds[direction]);
}

step('connecting to xenstored');
const client = await XenstoreClient.connect();
const platform = xenPlatform({ client });
let domid: number | undefined;
let status = 1;
try {
  step('creating the DomU, paused');
  const name = 'xenwire-vchan';
  const created = xl(
    'create',
    '-p',
    guestConfig({ name, ramdisk: 'vchan/initramfs-domu-vchan.cpio', vcpus: 1 }),
  );
  created.catch(() => {});
  // Dom0 mostly waits while the DomU is created and boots: the process-death checks run meanwhile.
  const serverChild = fileURLToPath(new URL('server-child.mjs', import.meta.url));
  const deaths = checkProcessDeath(client, platform, cTools, serverChild);
  deaths.catch(() => {});
  // libxl waits for a backend to write console/tty before `xl create` returns: attach meanwhile.
  domid = await Promise.race([domainNamed(client, name), created.then(() => -1)]);
  if (domid < 0) domid = Number(await xl('domid', name));
  step(`domain ${domid}: attaching xenwire's console backend`);
  const guestConsole = await openConsole({ client, platform, domid, timeoutMs: 120_000 });
  await created;
  const consoleEnded = once(guestConsole, 'end');
  const shell = new ConsoleShell(guestConsole, (line) => console.log(`domu| ${line}`));
  await xl('unpause', String(domid));
  const unpaused = Date.now();
  step('unpaused; waiting for the marker on the console');
  await shell.waitFor(/@@xenwire-lane:console-marker@@/, 240_000);
  const markerAfter = (Date.now() - unpaused) / 1000;
  // The marker comes before the shell starts, and busybox's line editing may flush what was typed
  // before it took the terminal: type at the prompt, and again if no answer comes.
  await shell.waitFor(/domu# /, 120_000, 0);
  const typed = Date.now();
  await typeUntilAnswered(shell, 'echo console-echo-$((6*7))', /console-echo-42/);
  console.log(
    `xen-lane: console: marker read ${markerAfter.toFixed(1)} s after unpause; typed ` +
      `'echo console-echo-$((6*7))', the guest's shell answered console-echo-42 in ` +
      `${((Date.now() - typed) / 1000).toFixed(1)} s`,
  );

  await deaths;
  step('process death checked');

  const [xenwireToC, cPair, cToXenwire] = await runPairs(shell, client, domid);
  const mib = (value: number) => `${value.toFixed(2)} MiB/s`;
  const ratio = (value: number) => `${value.toFixed(2)}x`;
  // ASCII only: the host parses these lines from the emulated serial console.
  console.log(
    `xen-lane: libxenvchan ${(ROUNDS * ROUND_BYTES) / MB} MiB each way at once, three pairs in ` +
      `turn in ${ROUNDS} rounds (every other one reversed, medians; ratios: median of each ` +
      `round's against the C round beside it), Dom0 server, ` +
      `rings 2048 B (Dom0 -> DomU) and 1024 B (DomU -> Dom0), hashes equal in every pair`,
  );
  for (const pair of [xenwireToC, cToXenwire, cPair]) {
    const vsC = pair === cPair ? ' (baseline)' : '';
    let ratios = '';
    if (pair !== cPair) {
      const toDomU = versusC(pair, cPair, 'toDomU');
      const toDom0 = versusC(pair, cPair, 'toDom0');
      ratios =
        `; xenwire/C ratio Dom0 -> DomU ${ratio(toDomU.median)}, ` +
        `DomU -> Dom0 ${ratio(toDom0.median)}`;
      const each = (summary: { samples: readonly number[] }) =>
        summary.samples.map((r) => r.toFixed(2)).join(' ');
      step(
        `${pair.name}: xenwire/C by round, Dom0 -> DomU ${each(toDomU)}; ` +
          `DomU -> Dom0 ${each(toDom0)}`,
      );
    }
    console.log(
      `xen-lane: libxenvchan ${pair.name}${vsC}: Dom0 -> DomU ${mib(pair.toDomU)}, ` +
        `DomU -> Dom0 ${mib(pair.toDom0)}${ratios}; DomU CPU ${pair.domUCpu.toFixed(2)} s a round`,
    );
  }

  step('powering the DomU off through its console');
  shell.type('poweroff -f');
  await Promise.race([
    consoleEnded,
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error('the console did not end')), 60_000),
    ),
  ]);
  console.log('xen-lane: console: ended with the domain (poweroff typed on the console)');
  domid = undefined;
  status = 0;
} catch (error) {
  step(`FAILED: ${(error as Error).stack ?? error}`);
} finally {
  if (domid !== undefined) await xl('destroy', String(domid)).catch(() => {});
  platform.close();
  await client.close();
}
process.exit(status);
