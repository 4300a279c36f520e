import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMeasured, sample } from '../../bench/lib/measured-process.ts';
import { tsCommand } from '../../bench/lib/ts-child.ts';

const measuredChild = fileURLToPath(new URL('../../bench/lib/measured-child.ts', import.meta.url));

describe('sample', () => {
  it('divides the loop’s own CPU time and each observed process’s by the ops', () => {
    const s = sample(
      { ops: 1000, seconds: 0.5, cpuSeconds: 0.02, extra: { x: 1 } },
      { daemon: 3 },
      { daemon: 3.01 },
    );
    expect(s.rate).toBe(2000);
    expect(s.cpuPerOp?.client).toBeCloseTo(20e-6, 12);
    expect(s.cpuPerOp?.daemon).toBeCloseTo(10e-6, 12);
    expect(s.extra).toEqual({ x: 1 });
  });

  it('rejects a report of no ops or no time', () => {
    expect(() => sample({ ops: 0, seconds: 1, cpuSeconds: 0 }, {}, {})).toThrow(/0 ops/);
    expect(() => sample({ ops: 1, seconds: 0, cpuSeconds: 0 }, {}, {})).toThrow(/in 0 s/);
  });
});

describe('runMeasured', () => {
  let directory: string;
  const script = async (name: string, body: string): Promise<string> => {
    const path = join(directory, name);
    await writeFile(path, body);
    return path;
  };

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'xenwire-measured-'));
  });

  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('reports the loop, charges an observed process, and lets the child clean up after', async () => {
    const marker = join(directory, 'cleaned');
    // The loop burns CPU; what follows the handshake (the clean-up) must not be measured.
    const child = await script(
      'loop.mts',
      `import { writeFileSync } from 'node:fs';
import { measureWhenTold } from ${JSON.stringify(measuredChild)};
await measureWhenTold(async () => {
  let x = 0;
  for (let i = 0; i < 3e7; i++) x += i;
  return { ops: 1000, extra: { x: x > 0 ? 1 : 0 } };
});
writeFileSync(${JSON.stringify(marker)}, 'yes');
`,
    );
    const daemon = spawn('sleep', ['30'], { stdio: 'ignore' });
    const gone = new Promise((resolve) => daemon.once('exit', resolve));
    try {
      await new Promise((resolve) => daemon.once('spawn', resolve));
      const s = await runMeasured({ ...tsCommand(child, []), observe: { daemon: daemon.pid! } });
      expect(s.rate).toBeGreaterThan(0);
      expect(s.cpuPerOp?.client).toBeGreaterThan(0);
      // A sleeping daemon uses no CPU while it is observed.
      expect(s.cpuPerOp?.daemon).toBe(0);
      expect(s.extra).toEqual({ x: 1 });
      const { readFile } = await import('node:fs/promises');
      expect(await readFile(marker, 'utf8')).toBe('yes');
    } finally {
      daemon.kill('SIGKILL');
      await gone;
    }
  });

  it('rejects, naming the command, when the child dies before its report', async () => {
    const child = await script(
      'dies.mts',
      'process.stdout.write(JSON.stringify({ ready: true }) + "\\n");\nconsole.error("no daemon here");\nprocess.exit(3);\n',
    );
    await expect(runMeasured(tsCommand(child, []))).rejects.toThrow(
      /^dies\.mts exited \(3\) in the middle of the handshake: no daemon here$/,
    );
  });

  it('rejects a child that does not speak the handshake, and kills it', async () => {
    const pidFile = join(directory, 'pid');
    const child = await script(
      'chatty.mts',
      `import { writeFileSync } from 'node:fs';
writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));
console.log('hello');
setInterval(() => {}, 1000);
`,
    );
    await expect(runMeasured(tsCommand(child, []))).rejects.toThrow(
      /expected a JSON line with "ready", got: hello/,
    );
    const { readFile } = await import('node:fs/promises');
    const pid = Number(await readFile(pidFile, 'utf8'));
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('fails a run whose child exits other than 0 after its report', async () => {
    const child = await script(
      'late.mts',
      `import { measureWhenTold } from ${JSON.stringify(measuredChild)};
await measureWhenTold(async () => ({ ops: 1 }));
process.exit(4);
`,
    );
    await expect(runMeasured(tsCommand(child, []))).rejects.toThrow(
      /late\.mts exited with 4 after its report/,
    );
  });
});
