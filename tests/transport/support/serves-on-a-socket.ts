import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toText } from '../../../src/xenstore/payload.ts';
import { encodeRequest } from '../../../src/xenstore/requests.ts';
import type { XenstoreServer } from '../../../src/xenstore/server/server.ts';
import type { socketListener } from '../../../src/xenstore/transport/socket-listener.ts';
import { RawConnection } from '../../support/raw-connection.ts';

/**
 * Listens with `listen` (a `socketListener` of the test file's own modules) and returns what a
 * client reads back after writing a node, once the listener is closed again.
 */
export async function writeAndReadBack(
  listen: typeof socketListener,
  server: XenstoreServer,
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'xenwire-fallback-'));
  const listener = await listen(server, { path: join(dir, 'xs.sock') });
  try {
    const conn = await RawConnection.open(listener.path);
    const ids = { reqId: 1, txId: 0 };
    await conn.exchange(encodeRequest({ op: 'WRITE', path: '/n', value: Buffer.from('v') }, ids));
    const { reply } = await conn.exchange(encodeRequest({ op: 'READ', path: '/n' }, ids));
    conn.close();
    return toText(reply.payload);
  } finally {
    await listener.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
