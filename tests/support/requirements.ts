import { spawnSync } from 'node:child_process';
import { buildNative } from '../../scripts/build-native.mjs';
import { isNativeAvailable } from '../../src/device/index.ts';

/**
 * Decides whether tests that need something outside the repository may run. Missing locally:
 * warn loudly and skip. Missing on CI (`CI=true`): throw, so the test file fails instead of
 * passing vacuously.
 */
export function requirement(what: string, missing: string | undefined): boolean {
  if (missing === undefined) return true;
  const message = `${what} unavailable: ${missing}`;
  if (process.env.CI === 'true') throw new Error(`${message} (required on CI)`);
  console.warn(`SKIPPING tests that need ${message}`);
  return false;
}

/**
 * Builds the native addon on demand; true when it is usable. With XENWIRE_NATIVE_ADDON set (a
 * prebuilt addon, e.g. inside a VM without a compiler) that file is used as it is.
 */
export function nativeAddonReady(): boolean {
  if (process.env.XENWIRE_NATIVE_ADDON) {
    const path = process.env.XENWIRE_NATIVE_ADDON;
    return requirement('the native addon', isNativeAvailable() ? undefined : `cannot load ${path}`);
  }
  const outcome = buildNative();
  return requirement('the native addon', outcome.ok ? undefined : outcome.reason);
}

/** True when a C compiler is on PATH (for ABI checks and benchmarks). */
export function compilerReady(): boolean {
  const probe = spawnSync('gcc', ['--version'], { stdio: 'ignore' });
  return requirement('gcc', probe.status === 0 ? undefined : 'gcc not found on PATH');
}
