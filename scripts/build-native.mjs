#!/usr/bin/env node
/**
 * Builds the optional native addon (native/) with node-gyp, offline, against the headers of the
 * running Node. Used three ways:
 *   node scripts/build-native.mjs             build if stale; exit 1 on failure
 *   node scripts/build-native.mjs --optional  the package's install step: failure only warns,
 *                                             so installing without a compiler still succeeds
 *   import { buildNative } from '…'           tests build on demand before using the addon
 * Concurrent callers (parallel test files) serialise on a lock directory.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
/** Where node-gyp leaves the addon. */
export const addonPath = join(nativeDir, 'build', 'Release', 'xenwire.node');
// Outside native/build, which `node-gyp rebuild` deletes while it runs.
const lockDir = join(root, '.cache', 'native-build.lock');

function newestSource() {
  const files = [join(nativeDir, 'binding.gyp')];
  for (const name of readdirSync(join(nativeDir, 'src'))) files.push(join(nativeDir, 'src', name));
  return Math.max(...files.map((file) => statSync(file).mtimeMs));
}

function isFresh() {
  return existsSync(addonPath) && statSync(addonPath).mtimeMs >= newestSource();
}

function findNodeGyp() {
  const npmDir = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm');
  const candidates = [
    process.env.npm_config_node_gyp,
    join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((file) => file && existsSync(file));
}

/** A directory holding this Node's headers, so node-gyp never tries to download them. */
function findNodeDir() {
  const candidates = [
    process.env.npm_config_nodedir,
    process.config.variables.node_prefix,
    resolve(dirname(process.execPath), '..'),
  ];
  return candidates.find((dir) => dir && existsSync(join(dir, 'include', 'node', 'node_api.h')));
}

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Takes the build lock; a lock older than two minutes is from a killed build and is broken. */
function lock() {
  mkdirSync(dirname(lockDir), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lockDir);
      return;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      if (Date.now() - statSync(lockDir).mtimeMs > 120_000)
        rmSync(lockDir, { recursive: true, force: true });
      else sleep(200);
    }
  }
}

/**
 * Builds the addon unless it is newer than its sources.
 * @returns `{ ok: true, path }` or `{ ok: false, reason }` — never throws for a missing toolchain
 */
export function buildNative({ force = false, quiet = true } = {}) {
  if (!force && isFresh()) return { ok: true, path: addonPath };
  const nodeGyp = findNodeGyp();
  if (!nodeGyp) return { ok: false, reason: 'node-gyp not found (it ships with npm)' };
  const nodeDir = findNodeDir();
  if (!nodeDir) return { ok: false, reason: 'Node headers (include/node/node_api.h) not found' };
  lock();
  try {
    if (!force && isFresh()) return { ok: true, path: addonPath };
    const result = spawnSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodeDir}`], {
      cwd: nativeDir,
      encoding: 'utf8',
      stdio: quiet ? 'pipe' : 'inherit',
    });
    if (result.status !== 0) {
      const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-15);
      return {
        ok: false,
        reason: `node-gyp failed (${result.status ?? result.signal})\n${output.join('\n')}`,
      };
    }
    return { ok: true, path: addonPath };
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const optional = process.argv.includes('--optional');
  const outcome = buildNative({ force: process.argv.includes('--force'), quiet: false });
  if (outcome.ok) {
    console.log(`xenwire: native addon ready at ${outcome.path}`);
  } else if (optional) {
    console.warn(
      `xenwire: native addon not built, native features will throw ENOSYS: ${outcome.reason}`,
    );
  } else {
    console.error(`xenwire: native addon build failed: ${outcome.reason}`);
    process.exit(1);
  }
}
