import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ALL_CONDITIONS,
  allowedCpus,
  enterCondition,
  parseConditions,
  pinned,
  UNPINNED,
  UNPINNED_WITH_HOG,
} from '../../bench/lib/conditions.ts';

const hasTaskset = spawnSync('taskset', ['--version']).status === 0;

describe('parseConditions', () => {
  it('reads all, names and cpuN, keeping the order given', () => {
    expect(parseConditions('all')).toEqual(ALL_CONDITIONS);
    expect(ALL_CONDITIONS.map((c) => c.id)).toEqual(['unpinned', 'unpinned+hog', 'cpu0']);
    expect(parseConditions('cpu3,unpinned+hog,unpinned')).toEqual([
      pinned(3),
      UNPINNED_WITH_HOG,
      UNPINNED,
    ]);
    expect(parseConditions('hog')).toEqual([UNPINNED_WITH_HOG]);
  });

  it('rejects unknown and repeated conditions', () => {
    expect(() => parseConditions('cpu')).toThrow(/unknown condition "cpu"/);
    expect(() => parseConditions('unpinned,')).toThrow(/unknown condition ""/);
    expect(() => parseConditions('cpu0,cpu0')).toThrow(/cpu0 is given twice/);
  });
});

/** Hogs: children of `parent` running `node -e …ppid()…`. */
function hogsOf(parent: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return ppid === parent && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('ppid()');
      } catch {
        return false;
      }
    })
    .map(Number);
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

describe('enterCondition', () => {
  it.skipIf(!hasTaskset)('pins a process to one CPU, and gives it back its CPUs', async () => {
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => sleeper.once('exit', resolve));
    try {
      await new Promise((resolve) => sleeper.once('spawn', resolve));
      const before = allowedCpus(sleeper.pid!);
      const active = await enterCondition(pinned(0), sleeper.pid!);
      expect(allowedCpus(sleeper.pid!)).toBe('0');
      expect(await active.leave()).toEqual({});
      expect(allowedCpus(sleeper.pid!)).toBe(before);
    } finally {
      sleeper.kill('SIGKILL');
      await exited;
    }
  });

  it('runs the hog for the condition only, and says how busy it kept a CPU', async () => {
    expect(hogsOf(process.pid)).toEqual([]);
    const active = await enterCondition(UNPINNED_WITH_HOG);
    const [hog] = hogsOf(process.pid);
    expect(hog).toBeDefined();
    expect(allowedCpus(hog!)).toBe(allowedCpus(process.pid));
    const report = await active.leave();
    expect(report.hogCpus).toBeGreaterThanOrEqual(0);
    expect(hogsOf(process.pid)).toEqual([]);
  });

  it('leaves no hog behind when the bench is killed outright', async () => {
    const script =
      "const m = await import('./bench/lib/conditions.ts');" +
      'await m.enterCondition(m.UNPINNED_WITH_HOG); console.log("in"); setInterval(() => {}, 1000);';
    const bench = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let hog: number | undefined;
    try {
      await new Promise((resolve) => bench.stdout!.once('data', resolve));
      [hog] = hogsOf(bench.pid!);
      expect(hog).toBeDefined();
    } finally {
      bench.kill('SIGKILL');
    }
    // The hog looks at its parent every 2^24 turns: it is gone soon after, not at once.
    while (existsSync(`/proc/${hog}`) && !isZombie(hog!)) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });

  it('changes nothing in the unpinned condition', async () => {
    const before = allowedCpus(process.pid);
    const active = await enterCondition(UNPINNED);
    expect(hogsOf(process.pid)).toEqual([]);
    expect(await active.leave()).toEqual({});
    expect(allowedCpus(process.pid)).toBe(before);
  });
});
