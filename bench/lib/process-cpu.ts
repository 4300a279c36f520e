/**
 * What the kernel says a process has used, read from `/proc` from outside: how the bench charges
 * a daemon, which cannot know when a measured loop starts and stops. (The programs running a
 * loop measure themselves with `getrusage`, see `bench/c/measured.h`.)
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * The run time in seconds from a `/proc/<pid>/task/<tid>/schedstat` line: its first field is
 * the thread's time on a CPU in nanoseconds (the scheduler's `sum_exec_runtime`).
 */
export function parseSchedstat(text: string): number {
  const nanoseconds = /^\d+/.exec(text.trim());
  if (!nanoseconds) throw new Error(`not a schedstat line: ${text}`);
  return Number(nanoseconds[0]) / 1e9;
}

/**
 * User + system time in clock ticks from a `/proc/<pid>/stat` line (fields 14 and 15). The
 * command name in parentheses may hold spaces, so the fields are counted after its `)`.
 */
export function parseStatTicks(text: string): number {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Field 3 (state) is the first after the name: utime and stime are fields 14 and 15.
  const [utime, stime] = [fields[11], fields[12]];
  if (!utime || !stime || !/^\d+$/.test(utime) || !/^\d+$/.test(stime)) {
    throw new Error(`not a stat line: ${text}`);
  }
  return Number(utime) + Number(stime);
}

/** The resident set in bytes from the text of `/proc/<pid>/status` (its `VmRSS:` line, in kB). */
export function parseResidentBytes(status: string): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error('no VmRSS line in the status');
  return Number(match[1]) * 1024;
}

let ticksPerSecond: number | undefined;

/**
 * The CPU time, in seconds, of every thread process `pid` has now: the sum of their
 * `schedstat` run times, exact to the nanosecond. A thread that ended is no longer counted, so
 * this is for daemons, whose threads live as long as they do. Where the kernel has no
 * `schedstat`, the process's utime + stime from `/proc/<pid>/stat`, in clock ticks (10 ms).
 */
export function processCpuSeconds(pid: number): number {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    throw new Error(`process ${pid} is gone`);
  }
  let seconds = 0;
  for (const tid of tids) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && tid !== String(pid)) continue;
      return statCpuSeconds(pid);
    }
    seconds += parseSchedstat(text);
  }
  return seconds;
}

function statCpuSeconds(pid: number): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  return parseStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) / ticksPerSecond;
}

/** The resident memory of process `pid`, in bytes. */
export function residentBytes(pid: number): number {
  return parseResidentBytes(readFileSync(`/proc/${pid}/status`, 'utf8'));
}
