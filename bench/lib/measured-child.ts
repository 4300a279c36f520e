/**
 * The measured side of the handshake (see `measured-process.ts`) for the bench's TypeScript
 * programs: says ready, runs the loop when told, reports it with this process's CPU time over
 * the loop (`process.cpuUsage()`, i.e. getrusage: every thread, finished ones included), then
 * waits for the bench to close stdin.
 */
import { createInterface } from 'node:readline';
import type { LoopReport } from './measured-process.ts';

/** What a measured loop says of itself. */
export interface LoopOutcome {
  readonly ops: number;
  /** The loop's own timing, when it has one better than the wall time around `run()`. */
  readonly seconds?: number;
  readonly extra?: Readonly<Record<string, number>>;
}

/**
 * Runs `loop` through the handshake on this process's stdin and stdout. Resolves once the bench
 * has closed stdin, so that what follows (cleaning up) is not measured; stdout carries nothing
 * else meanwhile.
 */
export async function measureWhenTold(loop: () => Promise<LoopOutcome>): Promise<void> {
  const input = createInterface({ input: process.stdin });
  const lines = input[Symbol.asyncIterator]();
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  const start = await lines.next();
  if (start.done || start.value !== 'start') {
    throw new Error(`expected "start" on stdin, got ${start.done ? 'its end' : start.value}`);
  }
  const cpuBefore = process.cpuUsage();
  const wallBefore = process.hrtime.bigint();
  const outcome = await loop();
  const wall = Number(process.hrtime.bigint() - wallBefore) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  const report: LoopReport = {
    ops: outcome.ops,
    seconds: outcome.seconds ?? wall,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    ...(outcome.extra ? { extra: outcome.extra } : {}),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  while (!(await lines.next()).done) {
    // Nothing more is expected; the end of stdin is the bench's go-ahead to clean up.
  }
  input.close();
}
