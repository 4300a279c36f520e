/**
 * The measured side of the handshake (see `measured-process.ts`) for the bench's TypeScript
 * programs: says ready, runs the loop when told, reports it with this process's CPU time over
 * the loop (`process.cpuUsage()`, i.e. getrusage: every thread, finished ones included), then
 * waits for the bench to close stdin.
 *
 * The handshake reads and writes file descriptors 0 and 1 directly, blocking, rather than
 * through `process.stdin` and `process.stdout`: those are Node streams, and writing a line
 * through one just before the loop sends V8's compiled code for the stream functions every
 * socket shares (`Writable.write` and the rest) back to the interpreter, having met a stream of
 * another kind. The client's first thousands of requests then ran on slower code (one at a time on
 * CPU 0: 14.5 µs of CPU per read against 11.7 µs with nothing written), a cost that no program
 * running the client for a while pays.
 */
import { Buffer } from 'node:buffer';
import { readSync, writeSync } from 'node:fs';
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
  const input = new LineReader(0);
  writeLine({ ready: true });
  const start = input.next();
  if (start !== 'start') {
    throw new Error(`expected "start" on stdin, got ${start ?? 'its end'}`);
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
  writeLine(report);
  // Nothing more is expected; the end of stdin is the bench's go-ahead to clean up.
  while (input.next() !== undefined);
}

function writeLine(value: unknown): void {
  const bytes = Buffer.from(`${JSON.stringify(value)}\n`);
  for (let at = 0; at < bytes.length; ) at += retried(() => writeSync(1, bytes, at));
}

/** Lines read from a file descriptor, blocking. */
class LineReader {
  readonly #fd: number;
  readonly #chunk = Buffer.alloc(256);
  #held = '';
  #ended = false;

  constructor(fd: number) {
    this.#fd = fd;
  }

  /** The next line, without its newline; undefined once the input has ended. */
  next(): string | undefined {
    const chunk = this.#chunk;
    for (;;) {
      const newline = this.#held.indexOf('\n');
      if (newline >= 0) {
        const line = this.#held.slice(0, newline);
        this.#held = this.#held.slice(newline + 1);
        return line;
      }
      if (this.#ended) return undefined;
      const size = retried(() => readSync(this.#fd, chunk));
      if (size === 0) this.#ended = true;
      else this.#held += chunk.toString('utf8', 0, size);
    }
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** `io()`, again after a millisecond whenever the descriptor would block. */
function retried(io: () => number): number {
  for (;;) {
    try {
      return io();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}
