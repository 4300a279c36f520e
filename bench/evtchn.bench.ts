/**
 * Event-channel wake-up latency: notify → wake → notify-back round trips between two worker
 * threads acting as two domains of the simulated hypervisor, against two C threads doing the
 * same with raw futexes (the floor for a cross-thread wake-up on this kernel). Each side is a
 * process of its own (`bench/evtchn/ping-pong-process.ts` for xenwire).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNative } from '../scripts/build-native.mjs';
import { compileC } from './lib/c-program.ts';
import { runMeasured } from './lib/measured-process.ts';
import { tsCommand } from './lib/ts-child.ts';
import type { BenchPair, RunOptions, Sample } from './lib/types.ts';
import { prerequisite } from './lib/unavailable.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const source = join(root, 'bench', 'evtchn', 'futex-ping-pong.c');
const pingPongProcess = fileURLToPath(new URL('./evtchn/ping-pong-process.ts', import.meta.url));

const rounds = (options: RunOptions) => (options.quick ? 5_000 : 100_000);

let binary: Promise<string> | undefined;

function buildBaseline(): Promise<string> {
  binary ??= prerequisite('gcc, for the C baseline', () =>
    compileC({ source, name: 'futex-ping-pong', libs: ['pthread'] }),
  );
  return binary;
}

async function futexBaseline(options: RunOptions): Promise<Sample> {
  return runMeasured({ command: await buildBaseline(), args: [String(rounds(options))] });
}

function simulatedCandidate(options: RunOptions): Promise<Sample> {
  return runMeasured(tsCommand(pingPongProcess, [String(rounds(options))]));
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
    async setup() {
      buildNative();
      await buildBaseline();
    },
  },
];
