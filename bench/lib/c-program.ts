import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where compiled baselines live: under the repository's (gitignored) `.cache/`. */
export const BENCH_CACHE = fileURLToPath(new URL('../../.cache/bench/', import.meta.url));

/** A C program to build with the system `gcc`. */
export interface CProgram {
  /** Path of the single C source file. */
  readonly source: string;
  /** Stem of the executable's name. */
  readonly name: string;
  readonly includeDirs?: readonly string[];
  /** Searched at link time and, through RPATH, at run time. */
  readonly libDirs?: readonly string[];
  /** Libraries to link, without `-l`. */
  readonly libs?: readonly string[];
}

/**
 * Compiles `program` with `-O2` into `.cache/bench/` and returns the executable's path. The name
 * carries a hash of the source, the local headers it includes (`#include "…"`) and the flags, so
 * an edited source or header is rebuilt and an unchanged one is reused. RPATH (not RUNPATH) lets
 * the libraries' own dependencies resolve from the same directories without `LD_LIBRARY_PATH`.
 */
export async function compileC(program: CProgram): Promise<string> {
  const args = [
    '-O2',
    '-Wall',
    ...(program.includeDirs ?? []).map((dir) => `-I${dir}`),
    program.source,
    ...(program.libDirs ?? []).flatMap((dir) => [`-L${dir}`, `-Wl,-rpath,${dir}`]),
    ...(program.libDirs?.length ? ['-Wl,--disable-new-dtags'] : []),
    ...(program.libs ?? []).map((lib) => `-l${lib}`),
  ];
  const source = await readFile(program.source, 'utf8');
  const hash = createHash('sha256').update(source).update(args.join('\0'));
  for (const header of localIncludes(program.source, source)) hash.update(await readFile(header));
  const output = join(BENCH_CACHE, `${program.name}-${hash.digest('hex').slice(0, 12)}`);
  if (existsSync(output)) return output;
  await mkdir(BENCH_CACHE, { recursive: true });
  // Build under a temporary name so that an interrupted build is never mistaken for a good one.
  const partial = `${output}.${process.pid}.tmp`;
  await run('gcc', ['-o', partial, ...args]);
  await rename(partial, output);
  return output;
}

/** The files a C source includes with quotes, resolved against its directory. */
export function localIncludes(path: string, source: string): string[] {
  return [...source.matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)].map((match) =>
    resolve(dirname(path), match[1]!),
  );
}
