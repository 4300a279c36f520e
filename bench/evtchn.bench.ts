/**
 * Event-channel wake-up latency: notify → wake → notify-back round trips between two worker
 * threads acting as two domains of the simulated hypervisor, against two C threads doing the
 * same with raw futexes (the floor for a cross-thread wake-up on this kernel).
 */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { buildNative } from '../scripts/build-native.mjs';
import { isNativeAvailable } from '../src/device/index.ts';
import { SimulatedHypervisor } from '../src/evtchn/index.ts';
import type { PingPongReport, PingPongSetup } from '../tests/evtchn/support/ping-pong-worker.ts';
import type { BenchPair, RunOptions, Sample } from './lib/types.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const source = join(root, 'bench', 'evtchn', 'futex-ping-pong.c');
const binary = join(root, '.cache', 'bench', 'futex-ping-pong');
const bootstrap = new URL('../tests/evtchn/support/typescript-worker.mjs', import.meta.url);
const entry = new URL('../tests/evtchn/support/ping-pong-worker.ts', import.meta.url).href;

const rounds = (options: RunOptions) => (options.quick ? 5_000 : 100_000);

async function futexBaseline(options: RunOptions): Promise<Sample> {
  const { stdout } = await run(binary, [String(rounds(options))]);
  return { rate: Number(stdout.trim()) };
}

/** Resolves with the first report of `kind` from `worker`, rejecting on a worker failure. */
function report<K extends PingPongReport['kind']>(
  worker: Worker,
  kind: K,
): Promise<Extract<PingPongReport, { kind: K }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: PingPongReport) => {
      if (message.kind === 'error') reject(new Error(message.message));
      else if (message.kind === kind) {
        worker.off('message', onMessage);
        resolve(message as Extract<PingPongReport, { kind: K }>);
      }
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });
}

async function simulatedCandidate(options: RunOptions): Promise<Sample> {
  // Sleeps on the addon's futex when it is built (setup builds it), else on Atomics.wait.
  const hv = SimulatedHypervisor.create({ maxDomains: 3 });
  const a = hv.createDomain();
  const b = hv.createDomain();
  const common = {
    buffer: hv.buffer,
    sequence: new SharedArrayBuffer(8),
    rounds: rounds(options),
    idle: false,
  };
  const start = (setup: PingPongSetup) =>
    new Worker(bootstrap, { workerData: { ...setup, entry } });
  const workerA = start({ ...common, role: 'a', domid: a, peerDomid: b });
  const workerB = start({ ...common, role: 'b', domid: b, peerDomid: a });
  try {
    const { port } = await report(workerA, 'port');
    const done = report(workerB, 'done');
    workerB.postMessage(port);
    const { received, seconds } = await done;
    return { rate: received / seconds, extra: { nativeFutex: isNativeAvailable() ? 1 : 0 } };
  } finally {
    await Promise.all([workerA.terminate(), workerB.terminate()]);
  }
}

export const pairs: BenchPair[] = [
  {
    id: 'evtchn.sim.round-trip',
    title: 'event-channel notify→wake round trip between two workers',
    unit: 'round trips/s',
    baseline: { label: 'C pthreads + futex', run: futexBaseline },
    candidate: { label: 'xenwire simulated hypervisor, two workers', run: simulatedCandidate },
    // Latency at most 3× the C floor.
    goal: { ratio: 1 / 3, direction: 'at-least' },
    async unavailable() {
      try {
        await run('gcc', ['--version']);
        return undefined;
      } catch {
        return 'gcc not found: cannot build the C baseline';
      }
    },
    async setup() {
      buildNative();
      mkdirSync(join(root, '.cache', 'bench'), { recursive: true });
      await run('gcc', ['-O2', '-Wall', '-pthread', '-o', binary, source]);
    },
  },
];
