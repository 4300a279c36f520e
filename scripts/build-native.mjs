#!/usr/bin/env node
/**
 * Builds the optional native addon (native/) with node-gyp, offline, against the headers of the
 * running Node. Used three ways:
 *   node scripts/build-native.mjs             build if stale; on failure print why, exit 1
 *   node scripts/build-native.mjs --optional  the package's install step: quiet when it works;
 *                                             without a compiler, one line on what is missing and
 *                                             how to build it later, and the install succeeds.
 *                                             Under `npm rebuild` a failure is an error, so that
 *                                             npm shows it.
 *   import { buildNative } from '…'           tests build on demand before using the addon
 * Concurrent callers (parallel test files) serialise on a lock directory.
 */
import { spawnSync } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
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

/** True when `command` is an executable on PATH (or a path to one). */
function onPath(command) {
  const candidates = command.includes('/')
    ? [command]
    : (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir || '.', command));
  return candidates.some((file) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

/** What node-gyp needs besides itself and Node's headers: a C compiler, make and Python. */
function missingTools() {
  const compiler = process.env.CC?.split(' ')[0];
  const missing = [];
  if (compiler ? !onPath(compiler) : !['cc', 'gcc', 'clang'].some(onPath)) {
    missing.push('a C compiler');
  }
  if (!onPath('make')) missing.push('make');
  if (!['python3', 'python'].some(onPath)) missing.push('python3');
  return missing;
}

/**
 * Builds the addon unless it is newer than its sources. node-gyp's progress is kept back; a
 * failed build's reason ends with the last lines it printed (the compiler's errors).
 * @returns `{ ok: true, path }` or `{ ok: false, reason, toolchain }` (`toolchain`: true when
 *   the tools to build it are missing, rather than the build failing) — never throws
 */
export function buildNative({ force = false } = {}) {
  if (!force && isFresh()) return { ok: true, path: addonPath };
  const missing = missingTools();
  if (missing.length > 0) {
    return { ok: false, toolchain: true, reason: `${missing.join(', ')} not found on PATH` };
  }
  const nodeGyp = findNodeGyp();
  if (!nodeGyp)
    return { ok: false, toolchain: true, reason: 'node-gyp not found (it ships with npm)' };
  const nodeDir = findNodeDir();
  if (!nodeDir) {
    return {
      ok: false,
      toolchain: true,
      reason: 'Node headers (include/node/node_api.h) not found',
    };
  }
  lock();
  try {
    if (!force && isFresh()) return { ok: true, path: addonPath };
    const result = spawnSync(
      process.execPath,
      [nodeGyp, 'rebuild', `--nodedir=${nodeDir}`, '--loglevel=error'],
      { cwd: nativeDir, encoding: 'utf8', stdio: 'pipe' },
    );
    if (result.status !== 0) {
      const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-30);
      return {
        ok: false,
        toolchain: false,
        reason: `node-gyp failed (${result.status ?? result.signal}):\n${output.join('\n')}`,
      };
    }
    return { ok: true, path: addonPath };
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

const UNAVAILABLE =
  'mapping pages, /dev/xen/evtchn and gntdev/gntalloc are unavailable (everything else works)';
const LATER =
  'build them later with `npm rebuild xenwire` from your project (`xenwire doctor` shows what works)';

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // `npm rebuild xenwire` is asked for on purpose: there, a failure must show.
  const optional = process.argv.includes('--optional') && process.env.npm_command !== 'rebuild';
  const outcome = buildNative({ force: process.argv.includes('--force') });
  if (outcome.ok) {
    if (!optional) console.log(`xenwire: native addon built: ${outcome.path}`);
  } else if (optional && outcome.toolchain) {
    console.warn(`xenwire: native addon not built (${outcome.reason}): ${UNAVAILABLE}; ${LATER}`);
  } else if (optional) {
    console.warn(`xenwire: native addon build failed: ${outcome.reason}`);
    console.warn(`xenwire: ${UNAVAILABLE}; once fixed, ${LATER}`);
  } else {
    console.error(`xenwire: native addon build failed: ${outcome.reason}`);
    process.exit(1);
  }
}
