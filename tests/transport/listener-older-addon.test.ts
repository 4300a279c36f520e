import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeAndReadBack } from './support/serves-on-a-socket.ts';

// An addon built from an older version: it loads, but has no listening socket. Each test file
// gets fresh modules, so the loader points at it in this file only.
const dir = mkdtempSync(join(tmpdir(), 'xenwire-older-addon-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const older = join(dir, 'xenwire.cjs');
writeFileSync(older, 'module.exports = { watchReadable() {}, unwatch() {}, closeFd() {} };\n');
process.env.XENWIRE_NATIVE_ADDON = older;
const { isNativeAvailable } = await import('../../src/device/native.ts');
const { socketListener } = await import('../../src/xenstore/transport/socket-listener.ts');
const { XenstoreServer } = await import('../../src/xenstore/server/server.ts');

describe('a socket listener with an addon that has no listening socket', () => {
  it('accepts with net.Server and serves', async () => {
    expect(isNativeAvailable()).toBe(true);
    expect(await writeAndReadBack(socketListener, new XenstoreServer())).toBe('v');
  });
});
