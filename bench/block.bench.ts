/**
 * Block-device throughput on the simulated host: blkfront and blkback in two worker threads
 * (two domains), 64 KiB requests, 32 in flight, against the same bytes moved between two
 * workers through a SharedArrayBuffer with no protocol at all (slots handed over with
 * Atomics.wait/notify): the floor of what any pair of workers pays to move them. Each side runs
 * in a process of its own (`bench/block/pair-process.ts`) and reports its CPU time per MB moved.
 * The goal is absolute — at least 200 MB/s for the candidate — so the pair has no ratio
 * goal.
 */
import { fileURLToPath } from 'node:url';
import type { BlockPairJob } from './block/pair-process.ts';
import { runMeasured } from './lib/measured-process.ts';
import { tsCommand } from './lib/ts-child.ts';
import type { BenchPair, RunOptions, Sample } from './lib/types.ts';

const pairProcess = fileURLToPath(new URL('./block/pair-process.ts', import.meta.url));

const MiB = 1024 * 1024;

const job = (options: RunOptions): BlockPairJob => ({
  bytes: options.quick ? 4 * MiB : 32 * MiB,
  requestBytes: 64 * 1024,
  depth: 32,
  passes: options.quick ? 1 : 4,
});

const side =
  (which: 'candidate' | 'baseline') =>
  (options: RunOptions): Promise<Sample> =>
    runMeasured(tsCommand(pairProcess, [which, JSON.stringify(job(options))]));

export const pairs: BenchPair[] = [
  {
    id: 'block.sim.64k',
    title: 'block device between two workers, 64 KiB requests, 32 in flight (goal ≥ 200 MB/s)',
    unit: 'MB/s',
    baseline: { label: 'two workers copying through shared memory', run: side('baseline') },
    candidate: { label: 'xenwire blkfront -> blkback, two workers', run: side('candidate') },
  },
];
