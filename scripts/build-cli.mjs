#!/usr/bin/env node
/**
 * Bundles the `xenwire` command into dist/cli/ for a quick start: `main.cjs` holds the dispatcher,
 * and every module the sources load with `import()` (each subcommand in `commands/`, the embedded
 * server behind `--mock`, the random scripts of `conformance --fuzz`) is a bundle of its own that
 * is loaded only when needed. A call of `xenwire read` then reads two files rather than a hundred
 * modules, and never the server.
 *
 * CommonJS, because Node 20 sets up its ES module loader only for ES modules: a CommonJS program
 * skips that cost, which is a good part of a short call's run time. The sources' `import()` calls
 * become `require()`, and `import.meta.url` the bundle's own file URL (src/cli/import-meta-url.mjs).
 * Run by `npm run build`.
 */
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cliDir = join(root, 'src', 'cli');
// `--outdir DIR` builds elsewhere (the bench builds a copy); package.json and bin/ go beside
// DIR's parent for it to run, as in the package.
const outdirArgument = process.argv.indexOf('--outdir');
const outdir =
  outdirArgument > 0 ? resolve(process.argv[outdirArgument + 1]) : join(root, 'dist', 'cli');

/**
 * The modules loaded on demand, each bundled on its own, by bundle name. Every bundle sits in
 * dist/cli/ itself, so that paths the code derives from import.meta.url (two levels up: the
 * package, its package.json and native addon) are the same as from src/cli/.
 */
const lazy = new Map([
  ...readdirSync(join(cliDir, 'commands')).map((name) => [
    `command-${name.replace(/\.ts$/, '')}`,
    join(cliDir, 'commands', name),
  ]),
  ['mock-target', join(cliDir, 'mock-target.ts')],
  // `conformance --fuzz`; it needs fast-check, a development dependency, so that stays outside.
  ['conformance-fuzz', join(root, 'src', 'conformance', 'fuzz', 'index.ts')],
]);
const bundleOf = new Map([...lazy].map(([name, source]) => [source, name]));

/** Leaves every `import()` of a lazy module to run time, as a `require()` of its bundle. */
const lazyModules = {
  name: 'xenwire-lazy-modules',
  setup(build) {
    build.onResolve({ filter: /^\./ }, (args) => {
      if (args.kind !== 'dynamic-import') return undefined;
      const name = bundleOf.get(resolve(args.resolveDir, args.path));
      if (name === undefined) {
        return {
          errors: [{ text: `${args.path} is loaded lazily but is not bundled on its own` }],
        };
      }
      return { path: `./${name}.cjs`, external: true };
    });
  },
};

// Built beside and swapped in, so that a `xenwire` running meanwhile finds a whole bundle.
const building = `${outdir}.${process.pid}`;
const previous = `${outdir}.${process.pid}.old`;
rmSync(building, { recursive: true, force: true });
await build({
  entryPoints: { main: join(cliDir, 'main.ts'), ...Object.fromEntries(lazy) },
  outdir: building,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  supported: { 'dynamic-import': false },
  define: { 'import.meta.url': 'importMeta.url' },
  inject: [join(cliDir, 'import-meta-url.mjs')],
  plugins: [lazyModules],
  external: ['fast-check'],
  // The sources ship in src/, which the maps name.
  sourcemap: 'linked',
  sourcesContent: false,
  // Less to parse on every call; the maps give the sources' names back.
  minify: true,
  logLevel: 'warning',
});
if (existsSync(outdir)) renameSync(outdir, previous);
renameSync(building, outdir);
rmSync(previous, { recursive: true, force: true });
