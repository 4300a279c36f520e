import { lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenstoreClient } from '../../src/xenstore/client.ts';
import { type RealXenstored, startRealXenstored, xenInstall } from '../support/real-xenstored.ts';
import { type Started, startInMemoryDaemon, startProcess } from '../support/server-process.ts';

/** `npm start` (the in-memory xenstored) on `socket`. */
const npmStart = (socket: string) =>
  startProcess('npm', ['start', '--silent', '--', '--socket', socket]);
/** `xenwire serve` on `socket`. */
const xenwireServe = (socket: string) =>
  startProcess(process.execPath, ['bin/xenwire.cjs', 'serve', '--socket', socket]);

function inode(path: string): number {
  return lstatSync(path).ino;
}

async function readOnce(socketPath: string, path: string): Promise<string> {
  await using xs = await XenstoreClient.connect({ socketPath, busyPoll: false });
  return await xs.readString(path);
}

/**
 * A second server started on the socket of a running one fails at once, naming the path, and
 * leaves the first serving on the same socket file, also after it exited.
 */
async function expectRefusedBeside(socket: string, canary: string, value: string): Promise<void> {
  const before = inode(socket);
  for (const second of [npmStart(socket), xenwireServe(socket)]) {
    const { status, stderr } = await second.exited;
    expect(status).toBe(1);
    expect(stderr).toContain('EADDRINUSE');
    expect(stderr).toContain(socket);
    // One line, not a stack trace.
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(inode(socket)).toBe(before);
    expect(await readOnce(socket, canary)).toBe(value);
  }
}

describe('a second server on a live socket', () => {
  let dir: string;
  let socket: string;
  let first: Started;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xenwire-live-'));
    socket = join(dir, 'xenstored.sock');
    first = await startInMemoryDaemon(socket);
  }, 30_000);
  afterAll(() => {
    if (first.child.exitCode === null) first.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('npm start and xenwire serve fail with EADDRINUSE; the first keeps serving', async () => {
    await (async () => {
      await using xs = await XenstoreClient.connect({ socketPath: socket, busyPoll: false });
      await xs.write('/canary', 'first server');
    })();
    await expectRefusedBeside(socket, '/canary', 'first server');
  }, 60_000);

  it('the first removes its socket when it stops', async () => {
    first.child.kill('SIGTERM');
    expect((await first.exited).status).toBe(0);
    expect(lstatSync(socket, { throwIfNoEntry: false })).toBeUndefined();
  });
});

describe.skipIf(!xenInstall)('a server started on the C xenstored’s socket', () => {
  let daemon: RealXenstored;

  beforeAll(async () => {
    daemon = await startRealXenstored(xenInstall!);
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  it('fails with EADDRINUSE and leaves the C daemon serving on its socket', async () => {
    await (async () => {
      await using xs = await XenstoreClient.connect({
        socketPath: daemon.socketPath,
        busyPoll: false,
      });
      await xs.write('/canary', 'C daemon');
    })();
    await expectRefusedBeside(daemon.socketPath, '/canary', 'C daemon');
    expect(process.kill(daemon.pid, 0)).toBe(true);
  }, 60_000);
});
