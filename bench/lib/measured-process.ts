/**
 * The bench's side of measuring one run: every side of every pair runs in a process of its own,
 * and the bench only starts it and waits. The handshake, one line each way on the child's stdin
 * and stdout (`bench/c/measured.h` for C, `measured-child.ts` for TypeScript):
 *
 *   child -> bench   {"ready":true[,"pids":{"daemon":PID}]}   set up, idle
 *   bench -> child   start                                   after reading the daemon's CPU time
 *   child -> bench   {"ops":N,"seconds":S,"cpuSeconds":C[,"extra":{…}]}
 *   bench -> child   end of stdin                            after reading the daemon's CPU time
 *
 * then the child cleans up and exits 0. Between "start" and the report the bench is blocked on
 * the pipe, so nothing of it runs while a side is measured.
 *
 * CPU time: the child measures itself over its loop with getrusage(RUSAGE_SELF) (all its
 * threads, finished ones included); the bench reads each daemon's from /proc before "start" and
 * after the report (`processCpuSeconds`). Both are the kernel's accounting of time on a CPU.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { processCpuSeconds } from './process-cpu.ts';
import type { CpuPerOp, CpuRole, Sample } from './types.ts';

/** A command that speaks the handshake, and the processes to charge besides it. */
export interface MeasuredCommand {
  readonly command: string;
  readonly args: readonly string[];
  /** What to call it in errors (default: the command). */
  readonly name?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Other processes whose CPU time the run costs, by role (e.g. the daemon it talks to). */
  readonly observe?: Readonly<Partial<Record<CpuRole, number>>>;
}

/** The child's report of its loop. */
export interface LoopReport {
  readonly ops: number;
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly extra?: Readonly<Record<string, number>>;
}

/** What the child says when it is ready: processes of its own making to charge (a server). */
interface ReadyLine {
  readonly ready: true;
  readonly pids?: Readonly<Partial<Record<CpuRole, number>>>;
}

/**
 * Runs `measured` once through the handshake and returns its rate (ops per second of its own
 * loop time) and CPU time per op: its own as `client`, and each observed process's under its
 * role. Rejects, killing the child, when the child breaks the handshake or fails.
 */
export async function runMeasured(measured: MeasuredCommand): Promise<Sample> {
  const child = spawn(measured.command, [...measured.args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(measured.env ? { env: measured.env } : {}),
  });
  // Passed on as it comes (a healthy child writes nothing there), its end kept for errors.
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk);
    stderr = (stderr + chunk.toString()).slice(-4096);
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  const name = measured.name ?? basename(measured.command);
  const lines = lineReader(child, name, exited, () => cause(stderr));
  try {
    const ready = parseLine<ReadyLine>(await lines.next(), 'ready');
    const observed = { ...measured.observe, ...ready.pids };
    const before = cpuOf(observed);
    child.stdin!.write('start\n');
    const report = parseLine<LoopReport>(await lines.next(), 'ops');
    const after = cpuOf(observed);
    child.stdin!.end();
    const code = await exited;
    if (code !== 0) {
      throw new Error(`${name} exited with ${code} after its report${cause(stderr)}`);
    }
    return sample(report, before, after);
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited.catch(() => undefined);
    throw error;
  }
}

/** The rate and CPU per op of a report, given the observed processes' CPU before and after. */
export function sample(
  report: LoopReport,
  before: Readonly<Partial<Record<CpuRole, number>>>,
  after: Readonly<Partial<Record<CpuRole, number>>>,
): Sample {
  if (!(report.ops > 0) || !(report.seconds > 0)) {
    throw new Error(`a run reported ${report.ops} ops in ${report.seconds} s`);
  }
  const cpuPerOp: Partial<Record<CpuRole, number>> = { client: report.cpuSeconds / report.ops };
  for (const role of Object.keys(before) as CpuRole[]) {
    cpuPerOp[role] = (after[role]! - before[role]!) / report.ops;
  }
  return {
    rate: report.ops / report.seconds,
    cpuPerOp: cpuPerOp as CpuPerOp,
    ...(report.extra ? { extra: report.extra } : {}),
  };
}

function cpuOf(pids: Readonly<Partial<Record<CpuRole, number>>>): Partial<Record<CpuRole, number>> {
  return Object.fromEntries(
    Object.entries(pids).map(([role, pid]) => [role, processCpuSeconds(pid)]),
  );
}

function parseLine<T>(line: string, key: string): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error(`expected a JSON line with "${key}", got: ${line}`);
  }
  if (typeof parsed !== 'object' || parsed === null || !(key in parsed)) {
    throw new Error(`expected a JSON line with "${key}", got: ${line}`);
  }
  return parsed as T;
}

/** `: ` and the line of a child's stderr that says why it failed, if there is one. */
function cause(stderr: string): string {
  const lines = stderr.split('\n').map((line) => line.trim());
  const error = lines.findLast((line) => /^\w*Error\b.*:/.test(line));
  const last = error ?? lines.findLast((line) => line !== '' && !line.startsWith('Node.js v'));
  return last ? `: ${last}` : '';
}

/** The child's stdout, line by line; `next()` rejects once the child is gone without one. */
function lineReader(
  child: ChildProcess,
  name: string,
  exited: Promise<number | null>,
  why: () => string,
): { next(): Promise<string> } {
  const queued: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const take = waiting.shift();
    if (take) take(line);
    else queued.push(line);
  });
  return {
    next: () =>
      queued.length > 0
        ? Promise.resolve(queued.shift()!)
        : Promise.race([
            new Promise<string>((resolve) => waiting.push(resolve)),
            exited.then((code) => {
              throw new Error(`${name} exited (${code}) in the middle of the handshake${why()}`);
            }),
          ]),
  };
}
