import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadNative, type NativeAbi } from '../../src/device/native.ts';
import { compilerReady, nativeAddonReady, requirement } from '../support/requirements.ts';

const here = dirname(fileURLToPath(import.meta.url));
const headers = ['evtchn.h', 'gntdev.h', 'gntalloc.h'].map((name) => `/usr/include/xen/${name}`);
const missingHeaders = headers.filter((path) => !existsSync(path));
const ready =
  nativeAddonReady() &&
  compilerReady() &&
  requirement(
    "Linux's Xen uapi headers (Debian package linux-libc-dev)",
    missingHeaders.length > 0 ? `missing ${missingHeaders.join(', ')}` : undefined,
  );

/** Compiles and runs abi-check.c against the system headers. */
function headerAbi(): NativeAbi {
  const out = join(here, '..', '..', '.cache', 'evtchn');
  mkdirSync(out, { recursive: true });
  const binary = join(out, 'abi-check');
  const compile = spawnSync('gcc', ['-Wall', '-o', binary, join(here, 'abi-check.c')], {
    encoding: 'utf8',
  });
  expect(compile.status, compile.stderr).toBe(0);
  return JSON.parse(execFileSync(binary, { encoding: 'utf8' })) as NativeAbi;
}

describe.skipIf(!ready)('native addon ABI', () => {
  it('uses the ioctl numbers and struct layouts of the uapi headers', () => {
    const expected = headerAbi();
    const actual = loadNative().abi;
    expect(Object.keys(expected.ioctls).length).toBeGreaterThan(10);
    expect(actual.ioctls).toEqual(expected.ioctls);
    expect(actual.layouts).toEqual(expected.layouts);
  });
});
