import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Builds the C reference for the differential tests (tests/ring/ref/ring-ref.c) against Xen's
 * public headers, unpacked by harness/fetch-packages.sh. Returns the binary, or undefined when
 * gcc or the headers are missing: then the tests skip loudly, except under CI=true, where a
 * missing reference is a failure.
 */

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const source = join(repo, 'tests', 'ring', 'ref', 'ring-ref.c');

export function buildReference(): string | undefined {
  try {
    const root = execFileSync(join(repo, 'harness', 'fetch-packages.sh'), { encoding: 'utf8' })
      .trim()
      .split('\n')
      .at(-1)!;
    const include = join(root, 'usr', 'include');
    if (!existsSync(join(include, 'xen', 'io', 'ring.h')))
      throw new Error(`no ring.h in ${include}`);
    const outDir = join(repo, '.cache', 'ring');
    const binary = join(outDir, 'ring-ref');
    mkdirSync(outDir, { recursive: true });
    if (!existsSync(binary) || statSync(binary).mtimeMs < statSync(source).mtimeMs) {
      execFileSync('gcc', ['-O2', '-Wall', '-Werror', `-I${include}`, '-o', binary, source], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    }
    return binary;
  } catch (e) {
    if (process.env.CI === 'true') throw e;
    console.warn(`\n*** SKIPPING ring differential tests: no C reference (${String(e)}) ***\n`);
    return undefined;
  }
}

/** Runs a script through the C reference and returns its output lines. */
export function runReference(binary: string, script: readonly string[]): string[] {
  const result = spawnSync(binary, { input: `${script.join('\n')}\n`, encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`ring-ref exited ${result.status}: ${result.stderr}`);
  }
  return result.stdout.trimEnd().split('\n');
}
