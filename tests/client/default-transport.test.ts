import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { XenstoreClient } from '../../src/xenstore/client.ts';
import { defaultConnector, defaultSocketPath } from '../../src/xenstore/transport/default.ts';
import { XENBUS_DEVICE_PATH } from '../../src/xenstore/transport/xenbus-device.ts';
import { FakeServer } from './fake-server.ts';

describe('choosing the transport as libxenstore does', () => {
  it('takes XENSTORED_PATH, then $XENSTORED_RUNDIR/socket, then /var/run/xenstored/socket', () => {
    expect(defaultSocketPath({ XENSTORED_PATH: '/x/s', XENSTORED_RUNDIR: '/r' })).toBe('/x/s');
    expect(defaultSocketPath({ XENSTORED_RUNDIR: '/r' })).toBe('/r/socket');
    expect(defaultSocketPath({})).toBe('/var/run/xenstored/socket');
  });

  it('connects to the socket that $XENSTORED_RUNDIR names', async () => {
    const server = await FakeServer.start();
    try {
      const rundir = join(server.path, '..');
      const accepted = server.accept();
      const xs = await XenstoreClient.connect({
        transport: defaultConnector({ XENSTORED_RUNDIR: rundir }),
      });
      const conn = await accepted;
      const read = xs.readString('/a');
      conn.reply(await conn.receive(), 'via the socket');
      expect(await read).toBe('via the socket');
      await xs.close();
    } finally {
      await server.stop();
    }
  });

  it('opens a XENSTORED_PATH that is not a socket as a device', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xenwire-dev-'));
    try {
      // A regular file: the device transport opens it and its first read hits end of file.
      const file = join(dir, 'xenbus');
      await writeFile(file, '');
      const closed = new Promise<Error | undefined>((resolve) => {
        void XenstoreClient.connect({ transport: defaultConnector({ XENSTORED_PATH: file }) }).then(
          (xs) => xs.once('close', resolve),
        );
      });
      expect((await closed)?.message).toMatch(/xenbus device: device returned end of file/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(existsSync(XENBUS_DEVICE_PATH))(
    'names both the socket and the device when neither exists',
    async () => {
      await expect(
        XenstoreClient.connect({
          transport: defaultConnector({ XENSTORED_RUNDIR: '/nonexistent' }),
        }),
      ).rejects.toMatchObject({
        code: 'ENOENT',
        message: /\/nonexistent\/socket.*\/dev\/xen\/xenbus/,
      });
    },
  );
});
