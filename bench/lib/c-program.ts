import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
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
 * carries a hash of the source and the flags, so an edited source is rebuilt and an unchanged
 * one is reused. RPATH (not RUNPATH) lets the libraries' own dependencies resolve from the same
 * directories without `LD_LIBRARY_PATH`.
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
  const hash = createHash('sha256')
    .update(await readFile(program.source))
    .update(args.join('\0'))
    .digest('hex')
    .slice(0, 12);
  const output = join(BENCH_CACHE, `${program.name}-${hash}`);
  if (existsSync(output)) return output;
  await mkdir(BENCH_CACHE, { recursive: true });
  // Build under a temporary name so that an interrupted build is never mistaken for a good one.
  const partial = `${output}.${process.pid}.tmp`;
  await run('gcc', ['-o', partial, ...args]);
  await rename(partial, output);
  return output;
}
