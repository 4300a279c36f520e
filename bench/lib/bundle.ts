import { readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { BENCH_CACHE } from './c-program.ts';

/**
 * Keeps each module's own `import.meta.url` in the bundle, so that paths the sources derive from
 * it (the native addon, the harness) are the same as when they run unbundled.
 */
const ownImportMetaUrl: Plugin = {
  name: 'own-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const url = JSON.stringify(pathToFileURL(args.path).href);
      return { contents: source.replaceAll('import.meta.url', url), loader: 'ts' };
    });
  },
};

/**
 * Bundles a TypeScript entry point of the bench into `.cache/bench/<name>/` as one ES module,
 * compiled as `npm run build` compiles the package, and returns the bundle's path.
 *
 * A process measured for its memory runs such a bundle rather than the sources through tsx: tsx
 * compiles with esbuild's `keepNames`, which gives every function it names a `name` property of
 * its own, closures included (about 4.7 KB per guest of a simulated host), and keeps its loader
 * and source maps in the heap. Packages stay outside, loaded from `node_modules`.
 */
export async function bundleEntryPoint(entry: string, name: string): Promise<string> {
  const outdir = join(BENCH_CACHE, name);
  await rm(outdir, { recursive: true, force: true });
  const outfile = join(outdir, basename(entry).replace(/\.ts$/, '.mjs'));
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    plugins: [ownImportMetaUrl],
    logLevel: 'warning',
  });
  return outfile;
}
