import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { firstJsonLine } from '../../bench/lib/ts-child.ts';
import { loadNative } from '../../src/device/native.ts';
import { MessageType } from '../../src/xenstore/messages.ts';
import { encodeRequest } from '../../src/xenstore/requests.ts';
import { RawConnection } from '../support/raw-connection.ts';
import { nativeAddonReady } from '../support/requirements.ts';

const ready = nativeAddonReady();
const dir = mkdtempSync(join(tmpdir(), 'xenwire-native-accept-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fixture = fileURLToPath(new URL('./fixtures/few-descriptors-listener.ts', import.meta.url));

/** The addon's listening unix stream socket, under the socket listener's native accept. */
describe.skipIf(!ready)('native unix stream listening', () => {
  it('says why it cannot listen, and that no connection waits', () => {
    const native = loadNative();
    const taken = join(dir, 'file');
    writeFileSync(taken, '');
    expect(() => native.unixStreamListen(taken)).toThrow(
      expect.objectContaining({ code: 'EADDRINUSE' }),
    );
    expect(() => native.unixStreamListen(join(dir, 'x'.repeat(108)))).toThrow(
      expect.objectContaining({ code: 'ENAMETOOLONG' }),
    );
    const fd = native.unixStreamListen(join(dir, 'idle.sock'));
    try {
      expect(native.unixStreamAccept(fd)).toBe(-1);
    } finally {
      native.closeFd(fd);
    }
  });

  it('out of descriptors, leaves connections waiting and takes them once some are free', async () => {
    const path = join(dir, 'few.sock');
    const child = spawn(
      'prlimit',
      ['--nofile=64', process.execPath, '--import', 'tsx', fixture, path],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    try {
      const { room } = await firstJsonLine<{ room: number }>(child);
      expect(room).toBeGreaterThan(4);
      const read = () => encodeRequest({ op: 'READ', path: '/' }, { reqId: 1, txId: 0 });
      // More connections than the listener may open descriptors for.
      const conns = await Promise.all(
        Array.from({ length: room + 8 }, () => RawConnection.open(path)),
      );
      const answered = new Set<RawConnection>();
      const exchanges = conns.map((conn) =>
        conn.exchange(read()).then(({ reply }) => {
          answered.add(conn);
          return reply.type;
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      const waiting = conns.length - answered.size;
      expect(waiting).toBeGreaterThan(0);
      expect(answered.size).toBeGreaterThan(0);
      // As many leave as wait: those waiting are taken and answered, none refused.
      for (const conn of [...answered].slice(0, waiting)) conn.close();
      expect(await Promise.all(exchanges)).toEqual(conns.map(() => MessageType.READ));
      for (const conn of conns) conn.close();
    } finally {
      child.stdin!.end();
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
});
