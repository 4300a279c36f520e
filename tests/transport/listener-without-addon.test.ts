import { describe, expect, it } from 'vitest';
import { writeAndReadBack } from './support/serves-on-a-socket.ts';

// Each test file gets fresh modules, so pointing the loader at nothing here affects only this file.
process.env.XENWIRE_NATIVE_ADDON = '/nonexistent/xenwire.node';
const { socketListener } = await import('../../src/xenstore/transport/socket-listener.ts');
const { XenstoreServer } = await import('../../src/xenstore/server/server.ts');

describe('a socket listener without the native addon', () => {
  it('accepts with net.Server and serves', async () => {
    expect(await writeAndReadBack(socketListener, new XenstoreServer())).toBe('v');
  });
});
