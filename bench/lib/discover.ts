import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchModuleExport, BenchPair } from './types.ts';

/** The pairs of one bench file, or why they could not be loaded. */
export type BenchFile =
  | { readonly file: string; readonly pairs: readonly BenchPair[] }
  | { readonly file: string; readonly error: string };

/**
 * Imports every `*.bench.ts` in `directory` (sorted by name) and resolves its pairs export.
 * A file that fails to import is reported rather than fatal, so one broken area does not hide
 * the others' numbers.
 */
export async function discoverBenchFiles(directory: string): Promise<BenchFile[]> {
  const names = (await readdir(directory)).filter((name) => name.endsWith('.bench.ts')).sort();
  const files: BenchFile[] = [];
  for (const name of names) {
    try {
      const module = (await import(pathToFileURL(join(directory, name)).href)) as {
        default?: BenchModuleExport;
        pairs?: BenchModuleExport;
      };
      const exported = module.default ?? module.pairs;
      if (exported === undefined) throw new Error('exports no benchmark pairs (default or pairs)');
      const pairs = typeof exported === 'function' ? await exported() : exported;
      files.push({ file: name, pairs });
    } catch (error) {
      files.push({ file: name, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return files;
}
