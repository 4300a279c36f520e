import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/**
 * Every `ts` and `js` block of every README in the repository is a program: it runs here, with
 * its `xenwire…` imports pointed at the sources, and must exit 0 with nothing on stderr. The
 * examples check their own results with `node:assert`, so a wrong claim in the documentation
 * fails this test. `js` blocks run as plain JavaScript on this Node: bundled from the sources
 * without any syntax lowered, then run by `node` itself, as a reader would run them.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const workDir = join(root, '.cache', 'doc-examples');
const run = promisify(execFile);

const documents = execFileSync('git', ['ls-files', 'README.md', '*/README.md'], {
  cwd: root,
  encoding: 'utf8',
})
  .split('\n')
  .filter(Boolean);

/** `xenwire/…` specifiers by package.json's exports, to the sources they are built from. */
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { default: string }>;
};
const sources = new Map(
  Object.entries(manifest.exports).flatMap(([subpath, target]) =>
    typeof target === 'string'
      ? []
      : [
          [
            join('xenwire', subpath),
            join(root, target.default.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts')),
          ],
        ],
  ),
);

interface Example {
  readonly name: string;
  readonly document: string;
  readonly language: 'ts' | 'js';
  readonly code: string;
}

function examples(document: string): Example[] {
  const text = readFileSync(join(root, document), 'utf8');
  return [...text.matchAll(/```(ts|js)\n([\s\S]*?)```/g)].map((m, i) => ({
    name: `${document} example ${i + 1}`,
    document,
    language: m[1] as 'ts' | 'js',
    code: m[2]!,
  }));
}

/** Points each `xenwire…` import at the source its `exports` entry is built from. */
function pointAtSources(code: string): string {
  return code.replace(/from '(xenwire(?:\/[a-z/]+)?)'/g, (_whole, specifier: string) => {
    const source = sources.get(specifier);
    if (!source) throw new Error(`${specifier} is no entry point of the package`);
    return `from '${source}'`;
  });
}

async function runTypeScript(file: string, code: string): Promise<string> {
  writeFileSync(`${file}.ts`, pointAtSources(code));
  const tsx = join(root, 'node_modules', '.bin', 'tsx');
  return (await run(tsx, [`${file}.ts`], { cwd: workDir, timeout: 60_000 })).stderr;
}

async function runJavaScript(file: string, code: string): Promise<string> {
  writeFileSync(`${file}.src.mjs`, code);
  await build({
    entryPoints: [`${file}.src.mjs`],
    outfile: `${file}.mjs`,
    bundle: true,
    format: 'esm',
    platform: 'node',
    // Nothing lowered: syntax this Node cannot run fails the run.
    target: 'esnext',
    alias: Object.fromEntries(sources),
    logLevel: 'silent',
  });
  return (await run(process.execPath, [`${file}.mjs`], { cwd: workDir, timeout: 60_000 })).stderr;
}

describe('documentation examples run', () => {
  mkdirSync(workDir, { recursive: true });
  const all = documents.flatMap(examples);

  it('finds the examples of the README and of the areas', () => {
    expect(documents).toContain('README.md');
    const documented = new Set(all.map((example) => example.document));
    expect([...documented]).toEqual(
      expect.arrayContaining([
        'README.md',
        'src/xenbus/README.md',
        'src/xenstore/server/README.md',
      ]),
    );
  });

  it("has the README's examples in plain JavaScript, which Node 20 runs as it is", () => {
    const readme = all.filter((example) => example.document === 'README.md');
    expect(readme.length).toBeGreaterThan(0);
    expect(readme.filter((example) => example.language !== 'js')).toEqual([]);
  });

  it.each(all)('$name', async ({ name, language, code }) => {
    const file = join(workDir, name.replace(/[^a-z0-9]+/gi, '-'));
    const stderr =
      language === 'ts' ? await runTypeScript(file, code) : await runJavaScript(file, code);
    expect(stderr).toBe('');
  });
});
