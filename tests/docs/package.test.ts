import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The published shape: `npm run build` compiles every entry of the `exports` map, and each one
 * loads in plain Node (no TypeScript loader) and exports something.
 */

const root = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { types: string; import: string }>;
  engines: { node: string };
  type: string;
};
const outDir = mkdtempSync(join(tmpdir(), 'xenwire-dist-'));

const entries = Object.entries(manifest.exports).flatMap(([name, target]) =>
  typeof target === 'string' ? [] : [{ name, ...target }],
);

describe('package', () => {
  beforeAll(async () => {
    await run(
      join(root, 'node_modules', '.bin', 'tsc'),
      ['-p', 'tsconfig.build.json', '--outDir', outDir],
      {
        cwd: root,
      },
    );
  }, 180_000);
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('is ESM for Node 20 and later', () => {
    expect(manifest.type).toBe('module');
    expect(manifest.engines.node).toBe('>=20');
    expect(entries.map((e) => e.name)).toEqual(
      expect.arrayContaining(['.', './xenstore', './ring', './evtchn']),
    );
  });

  it.each(entries)('$name loads from the build with its types beside it', async (entry) => {
    const compiled = join(outDir, entry.import.replace(/^\.\/dist\//, ''));
    const types = join(outDir, entry.types.replace(/^\.\/dist\//, ''));
    const { stdout } = await run(process.execPath, [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(compiled)}); console.log(Object.keys(m).length);`,
    ]);
    expect(Number(stdout.trim())).toBeGreaterThan(0);
    expect(readFileSync(types, 'utf8')).toContain('export');
  });
});
