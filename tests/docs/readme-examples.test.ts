import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * Every TypeScript block of the README and of the area READMEs is a program: it runs here, with
 * its `xenwire…` imports pointed at the sources, and must exit 0. The examples check their own
 * results with `node:assert`, so a wrong claim in the documentation fails this test.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const workDir = join(root, '.cache', 'doc-examples');
const run = promisify(execFile);

const documents = [
  'README.md',
  'src/block/README.md',
  'src/conformance/README.md',
  'src/vchan/README.md',
  'src/console/README.md',
];

function examples(file: string): { name: string; code: string }[] {
  const text = readFileSync(join(root, file), 'utf8');
  const blocks = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks.map((code, i) => ({ name: `${file} example ${i + 1}`, code }));
}

const exportsMap = (
  JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    exports: Record<string, { import: string } | string>;
  }
).exports;

/** Points each `xenwire…` import at the source its `exports` entry is built from. */
function pointAtSources(code: string): string {
  return code.replace(/from '(xenwire(?:\/[a-z]+)*)'/g, (_m, spec: string) => {
    const target = exportsMap[`.${spec.slice('xenwire'.length)}`];
    if (typeof target !== 'object') throw new Error(`${spec} is no entry point of the package`);
    const source = target.import.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts');
    return `from '${join(root, source)}'`;
  });
}

describe('documentation examples run', () => {
  mkdirSync(workDir, { recursive: true });
  const all = documents.flatMap(examples);

  it('finds the examples', () => {
    expect(all.length).toBeGreaterThan(0);
  });

  it.each(all)('$name', async ({ name, code }) => {
    const file = join(workDir, `${name.replace(/[^a-z0-9]+/gi, '-')}.ts`);
    writeFileSync(file, pointAtSources(code));
    const tsx = join(root, 'node_modules', '.bin', 'tsx');
    const { stderr } = await run(tsx, [file], { cwd: workDir, timeout: 60_000 });
    expect(stderr).toBe('');
  });
});
