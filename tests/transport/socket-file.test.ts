import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { XenstoreClient } from '../../src/xenstore/client.ts';
import { XenstoreServer } from '../../src/xenstore/server/server.ts';
import { SOCKET_PATH_MAX } from '../../src/xenstore/transport/socket-file.ts';
import { type Listener, listenAccepting } from '../../src/xenstore/transport/socket-listener.ts';
import { rejection } from '../client/expectations.ts';
import { staleSocket } from '../support/stale-socket.ts';
import { ACCEPT_WAYS } from './support/acceptors.ts';

function inode(path: string): number {
  return lstatSync(path).ino;
}

/** A listener never takes over a socket a live server answers on, and removes only its own. */
describe.each(ACCEPT_WAYS)('the socket file of a listener, connections $name', (way) => {
  let dir: string;
  let path: string;
  const listeners: Listener[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'xenwire-socket-file-'));
    path = join(dir, 'xs.sock');
  });
  afterEach(async () => {
    await Promise.all(listeners.splice(0).map((listener) => listener.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  async function listen(server = new XenstoreServer(), at = path): Promise<Listener> {
    const listener = await listenAccepting(server, { path: at, busyPoll: false }, way.acceptor);
    listeners.push(listener);
    return listener;
  }

  async function answers(at: string, node: string): Promise<string> {
    await using xs = await XenstoreClient.connect({ socketPath: at, busyPoll: false });
    return await xs.readString(node);
  }

  it.skipIf(!way.available)('leaves nothing but the socket in the directory', async () => {
    await listen();
    expect(readdirSync(dir)).toEqual(['xs.sock']);
    expect(lstatSync(path).isSocket()).toBe(true);
  });

  it.skipIf(!way.available)('replaces a socket file nobody answers on', async () => {
    await staleSocket(path);
    expect((await rejection(XenstoreClient.connect({ socketPath: path }))).code).toBe(
      'ECONNREFUSED',
    );
    const server = new XenstoreServer();
    await listen(server);
    expect(await answers(path, '/')).toBe('');
  });

  it.skipIf(!way.available)(
    'refuses a path a server answers on with EADDRINUSE, leaving that server serving',
    async () => {
      const first = new XenstoreServer();
      await listen(first);
      await (async () => {
        await using xs = await XenstoreClient.connect({ socketPath: path, busyPoll: false });
        await xs.write('/canary', 'first');
      })();
      const before = inode(path);
      const error = await rejection(listen());
      expect(error.code).toBe('EADDRINUSE');
      expect(error.message).toContain(path);
      expect(inode(path)).toBe(before);
      expect(readdirSync(dir)).toEqual(['xs.sock']);
      expect(await answers(path, '/canary')).toBe('first');
    },
  );

  it.skipIf(!way.available)(
    'refuses a file that is not a socket, and leaves it as it was',
    async () => {
      writeFileSync(path, 'precious');
      const error = await rejection(listen());
      expect(error.code).toBe('EADDRINUSE');
      expect(error.message).toContain(path);
      expect(readFileSync(path, 'utf8')).toBe('precious');
    },
  );

  it.skipIf(!way.available)(
    'on close removes its own socket only, not one that replaced it',
    async () => {
      const first = await listen();
      unlinkSync(path);
      const second = new XenstoreServer();
      await listen(second);
      const replacement = inode(path);
      await first.close();
      expect(inode(path)).toBe(replacement);
      await (async () => {
        await using xs = await XenstoreClient.connect({ socketPath: path, busyPoll: false });
        await xs.write('/still', 'here');
      })();
      await listeners.at(-1)!.close();
      expect(lstatSync(path, { throwIfNoEntry: false })).toBeUndefined();
    },
  );

  it.skipIf(!way.available)(
    `takes a ${SOCKET_PATH_MAX}-byte path whose directory leaves room for a 2-byte name`,
    async () => {
      const deep = join(dir, 'd'.repeat(SOCKET_PATH_MAX - dir.length - 4));
      mkdirSync(deep);
      const path = join(deep, 'xs');
      expect(Buffer.byteLength(path)).toBe(SOCKET_PATH_MAX);
      await listen(new XenstoreServer(), path);
      expect(readdirSync(deep)).toEqual(['xs']);
      expect(await answers(path, '/')).toBe('');
    },
  );

  it.skipIf(!way.available)(
    `takes a path of ${SOCKET_PATH_MAX} bytes and refuses one byte more with ENAMETOOLONG`,
    async () => {
      const longest = join(dir, 'x'.repeat(SOCKET_PATH_MAX - dir.length - 1));
      expect(Buffer.byteLength(longest)).toBe(SOCKET_PATH_MAX);
      await listen(new XenstoreServer(), longest);
      expect(await answers(longest, '/')).toBe('');

      const tooLong = `${longest}y`;
      const error = await rejection(listen(new XenstoreServer(), tooLong));
      expect(error.code).toBe('ENAMETOOLONG');
      expect(error.message).toContain(tooLong);
      // Nothing created: no socket cut to 107 bytes, no temporary name.
      expect(readdirSync(dir)).toEqual([longest.slice(dir.length + 1)]);
      // The client end refuses it too, instead of connecting to the socket its first 107 bytes name.
      expect((await rejection(XenstoreClient.connect({ socketPath: tooLong }))).code).toBe(
        'ENAMETOOLONG',
      );
    },
  );
});
