import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  parseResidentBytes,
  parseSchedstat,
  parseStatTicks,
  processCpuSeconds,
  residentBytes,
} from '../../bench/lib/process-cpu.ts';

describe('parsing /proc', () => {
  it('takes the run time in nanoseconds from a schedstat line', () => {
    expect(parseSchedstat('47163289 39679649 142\n')).toBeCloseTo(0.047163289, 12);
    expect(() => parseSchedstat('')).toThrow(/not a schedstat line/);
  });

  it('adds utime and stime of a stat line, whatever the command name holds', () => {
    const fields = (name: string) =>
      `8305 (${name}) R 8277 8277 10477 0 -1 4194304 100 0 0 0 17 5 0 0 20 0 1 0 211108`;
    expect(parseStatTicks(fields('cat'))).toBe(22);
    expect(parseStatTicks(fields('a (b) c'))).toBe(22);
    expect(() => parseStatTicks('8305 (cat) R')).toThrow(/not a stat line/);
  });

  it('reads the resident set of a status text, in bytes', () => {
    expect(parseResidentBytes('Name:\tnode\nVmRSS:\t   51200 kB\nThreads:\t7\n')).toBe(
      51200 * 1024,
    );
    expect(() => parseResidentBytes('Name:\tnode\n')).toThrow(/VmRSS/);
  });
});

describe('reading a live process', () => {
  it('sees the CPU time of a busy process grow, and says when it is gone', async () => {
    const child = spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      const first = processCpuSeconds(child.pid!);
      let later = first;
      while (later <= first) later = processCpuSeconds(child.pid!);
      expect(later).toBeGreaterThan(first);
      expect(residentBytes(child.pid!)).toBeGreaterThan(0);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    expect(() => processCpuSeconds(child.pid!)).toThrow(/is gone/);
  });
});
