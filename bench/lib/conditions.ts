/**
 * The conditions a run measures in. One-at-a-time round trips depend on where the scheduler
 * puts the two ends and on what else the machine runs, so a claim holds in a condition, and
 * every verdict names it:
 *
 * - `unpinned`: the processes go wherever the scheduler puts them, the bench adding no load (a
 *   quiet machine, if nobody else uses it: the load averages in the report say);
 * - `unpinned+hog`: the same, with one busy-looping process of the bench's own running
 *   throughout, as a Dom0 always has other work;
 * - `cpu<N>`: the bench and every process it starts pinned to CPU N: no cross-CPU wake-ups,
 *   one CPU for both ends.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { processCpuSeconds } from './process-cpu.ts';

/** One condition to measure in. */
export interface Condition {
  /** As printed and written: `unpinned`, `unpinned+hog`, `cpu0`. */
  readonly id: string;
  readonly description: string;
  /** Pin the bench, and so every process it starts from then on, to this CPU. */
  readonly cpu?: number;
  /** Run one busy-looping process, unpinned, for the whole condition. */
  readonly hog?: boolean;
}

export const UNPINNED: Condition = {
  id: 'unpinned',
  description: 'unpinned, no load of the bench’s own',
};

export const UNPINNED_WITH_HOG: Condition = {
  id: 'unpinned+hog',
  description: 'unpinned, one busy-looping process of the bench’s own running throughout',
  hog: true,
};

/** Everything on CPU `cpu`. */
export function pinned(cpu: number): Condition {
  return { id: `cpu${cpu}`, description: `every process on CPU ${cpu}`, cpu };
}

/** What `--conditions all` runs, in this order. */
export const ALL_CONDITIONS: readonly Condition[] = [UNPINNED, UNPINNED_WITH_HOG, pinned(0)];

/**
 * Parses `--conditions`: `all`, or a comma-separated list of `unpinned`, `hog` (or
 * `unpinned+hog`) and `cpu<N>`, run in the order given. Throws a message fit for the user.
 */
export function parseConditions(value: string): Condition[] {
  if (value === 'all') return [...ALL_CONDITIONS];
  const conditions: Condition[] = [];
  for (const name of value.split(',')) {
    const cpu = /^cpu(\d+)$/.exec(name);
    const condition =
      name === 'unpinned'
        ? UNPINNED
        : name === 'hog' || name === 'unpinned+hog'
          ? UNPINNED_WITH_HOG
          : cpu
            ? pinned(Number(cpu[1]))
            : undefined;
    if (!condition) {
      throw new Error(`--conditions: unknown condition "${name}" (all, unpinned, hog, cpuN)`);
    }
    if (conditions.some((c) => c.id === condition.id)) {
      throw new Error(`--conditions: ${condition.id} is given twice`);
    }
    conditions.push(condition);
  }
  return conditions;
}

/** What the condition was like, as measured when leaving it. */
export interface ConditionReport {
  /** CPUs the hog kept busy on average (about 1 when it got a whole CPU). */
  readonly hogCpus?: number;
}

/** A condition in force until `leave()`. */
export interface ActiveCondition {
  leave(): Promise<ConditionReport>;
}

/**
 * Puts `condition` in force for process `pid` (default: the bench itself) and the processes it
 * starts from now on: pins every thread of it with `taskset` (children inherit the affinity),
 * and/or starts the hog. `leave()` restores the affinity it found and stops the hog.
 */
export async function enterCondition(
  condition: Condition,
  pid: number = process.pid,
): Promise<ActiveCondition> {
  const restore = condition.cpu === undefined ? undefined : pin(pid, String(condition.cpu));
  const hog = condition.hog ? startHog() : undefined;
  return {
    async leave() {
      if (restore !== undefined) pin(pid, restore);
      return hog ? { hogCpus: await hog.stop() } : {};
    },
  };
}

/** Sets the affinity of every thread of `pid` to `cpus`; returns the list it had before. */
function pin(pid: number, cpus: string): string {
  const before = allowedCpus(pid);
  try {
    execFileSync('taskset', ['--all-tasks', '--cpu-list', '--pid', cpus, String(pid)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`cannot pin to CPU ${cpus} with taskset: ${stderr || String(error)}`);
  }
  return before;
}

/** The CPUs process `pid` may run on, as a list such as `0-1`. */
export function allowedCpus(pid: number): string {
  const match = /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no Cpus_allowed_list for process ${pid}`);
  return match[1]!;
}

/**
 * Spins until its parent, whose pid it is given, is gone (it is then adopted and its parent id
 * changes; maybe before it started), so that a bench killed outright leaves no hog behind. The
 * parent id is read from /proc every 2^24 turns (`process.ppid` is only the value at start-up).
 */
const HOG = [
  "const ppid = () => require('fs').readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[1];",
  'for (let i = 1; ; i++) if (!(i & 0xffffff) && ppid() !== process.argv[1]) break;',
].join('\n');

/** The busy-looping process; `stop()` kills it and says how many CPUs it kept busy. */
function startHog(): { stop(): Promise<number> } {
  const child: ChildProcess = spawn(process.execPath, ['-e', HOG, String(process.pid)], {
    stdio: 'ignore',
  });
  const started = performance.now();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Should the bench die without leaving the condition, the hog must not outlive it.
  const kill = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', kill);
  return {
    async stop() {
      const cpus = processCpuSeconds(child.pid!) / ((performance.now() - started) / 1000);
      process.off('exit', kill);
      kill();
      await exited;
      return cpus;
    },
  };
}
