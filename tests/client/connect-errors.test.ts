import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenstoreClient } from '../../src/xenstore/client.ts';
import { XenstoreServer } from '../../src/xenstore/server/server.ts';
import { defaultConnector } from '../../src/xenstore/transport/default.ts';
import { inProcessConnector } from '../../src/xenstore/transport/in-process.ts';
import { type Listener, socketListener } from '../../src/xenstore/transport/socket-listener.ts';
import { xenbusDeviceConnector } from '../../src/xenstore/transport/xenbus-device.ts';
import { staleSocket } from '../support/stale-socket.ts';
import { rejection } from './expectations.ts';

const fixture = fileURLToPath(new URL('./fixtures/connect-code.ts', import.meta.url));
const repo = fileURLToPath(new URL('../../', import.meta.url));

/** Root passes every permission check, so permissions are tried as `nobody` then. */
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

/** Connects from a child process (as `nobody` when this one is root); its outcome. */
function connectAsUser(kind: 'socket' | 'device', path: string): string {
  return execFileSync(process.execPath, ['--import', 'tsx', fixture, kind, path], {
    cwd: repo,
    encoding: 'utf8',
    ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}),
  }).trim();
}

/** Whether a child can be run as `nobody` here (a container may forbid setuid). */
const canDropPrivileges = (() => {
  if (!asRoot) return true;
  try {
    execFileSync(process.execPath, ['-e', ''], { uid: NOBODY, gid: NOBODY });
    return true;
  } catch {
    return false;
  }
})();

/** A failed connect says why on its code; ECONNRESET is only for a connection lost later. */
describe('connection errors', () => {
  let dir: string;
  let listener: Listener;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xenwire-connect-'));
    // Searchable by anyone, so that only the socket's own mode decides.
    chmodSync(dir, 0o755);
    listener = await socketListener(new XenstoreServer(), { path: join(dir, 'live.sock') });
  });
  afterAll(async () => {
    await listener.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a missing socket is ENOENT', async () => {
    const error = await rejection(XenstoreClient.connect({ socketPath: join(dir, 'missing') }));
    expect(error.code).toBe('ENOENT');
    expect(error.message).toContain(join(dir, 'missing'));
  });

  it('a missing socket named by XENSTORED_PATH is ENOENT', async () => {
    const transport = defaultConnector({ XENSTORED_PATH: join(dir, 'missing') });
    expect((await rejection(XenstoreClient.connect({ transport }))).code).toBe('ENOENT');
  });

  it('a stale socket file, or a file that is no socket, is ECONNREFUSED', async () => {
    const stale = join(dir, 'stale.sock');
    await staleSocket(stale);
    expect((await rejection(XenstoreClient.connect({ socketPath: stale }))).code).toBe(
      'ECONNREFUSED',
    );
    const plain = join(dir, 'plain');
    writeFileSync(plain, '');
    expect((await rejection(XenstoreClient.connect({ socketPath: plain }))).code).toBe(
      'ECONNREFUSED',
    );
  });

  it('an in-process server that refuses the connection is ECONNREFUSED', async () => {
    const refusing = {
      connect: (): never => {
        throw new Error('no more connections');
      },
    };
    const error = await rejection(
      XenstoreClient.connect({ transport: inProcessConnector(refusing) }),
    );
    expect(error.code).toBe('ECONNREFUSED');
  });

  it('a device that cannot be opened says why', async () => {
    const io = (code: string) => ({
      open: (_: string, callback: (error: Error | null, fd: number) => void) =>
        callback(Object.assign(new Error(code), { code }), -1),
      read: () => {},
      write: () => {},
      close: () => {},
    });
    for (const [code, expected] of [
      ['ENOENT', 'ENOENT'],
      ['EACCES', 'EACCES'],
      ['ENXIO', 'ENOENT'],
    ]) {
      const transport = xenbusDeviceConnector('/dev/xen/xenbus', io(code!));
      const error = await rejection(XenstoreClient.connect({ transport }));
      expect([error.code, error.message]).toEqual([
        expected,
        `cannot connect to /dev/xen/xenbus: ${code}`,
      ]);
    }
  });

  it('a connection lost after it was made is ECONNRESET', async () => {
    const path = join(dir, 'hangs-up.sock');
    const server: Server = createServer((socket) => socket.once('data', () => socket.destroy()));
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const xs = await XenstoreClient.connect({ socketPath: path });
      expect((await rejection(xs.read('/a'))).code).toBe('ECONNRESET');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  describe.skipIf(!canDropPrivileges)('permissions (as nobody when run as root)', () => {
    it('an unreadable socket is EACCES; the same socket readable connects', () => {
      const socket = join(dir, 'live.sock');
      chmodSync(socket, 0o666);
      expect(connectAsUser('socket', socket)).toBe('connected');
      chmodSync(socket, 0o000);
      expect(connectAsUser('socket', socket)).toBe('EACCES');
    });

    it('an unreadable device is EACCES', () => {
      const device = join(dir, 'xenbus');
      writeFileSync(device, '');
      chmodSync(device, 0o000);
      expect(connectAsUser('device', device)).toBe('EACCES');
    });
  });
});
