import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessageType } from '../../src/xenstore/messages.ts';
import { toText } from '../../src/xenstore/payload.ts';
import { encodeRequest } from '../../src/xenstore/requests.ts';
import { XenstoreServer } from '../../src/xenstore/server/server.ts';
import { type Listener, socketListener } from '../../src/xenstore/transport/socket-listener.ts';
import { encodeMessage } from '../../src/xenstore/wire.ts';
import { RawConnection } from '../support/raw-connection.ts';

/** The unix-socket listener frames each connection's bytes, whatever their chunking. */
describe('socket listener', () => {
  let dir: string;
  let listener: Listener;
  let path: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xenwire-listener-'));
    path = join(dir, 'xs.sock');
    listener = await socketListener(new XenstoreServer(), { path, busyPoll: false });
  });

  afterAll(async () => {
    await listener.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reassembles requests split over writes and several in one write', async () => {
    const conn = await RawConnection.open(path);
    const bytes = Buffer.concat([
      encodeMessage(
        encodeRequest(
          { op: 'WRITE', path: '/s', value: Buffer.from('abc') },
          { reqId: 1, txId: 0 },
        ),
      ),
      encodeMessage(encodeRequest({ op: 'READ', path: '/s' }, { reqId: 2, txId: 0 })),
    ]);
    // A byte at a time, each in its own turn of the event loop, then the rest at once.
    for (const byte of bytes.subarray(0, 20)) {
      conn.sendBytes(Buffer.of(byte));
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    conn.sendBytes(bytes.subarray(20));
    const first = await conn.next();
    const second = await conn.next();
    expect([first.reqId, toText(first.payload)]).toEqual([1, 'OK\0']);
    expect([second.reqId, toText(second.payload)]).toEqual([2, 'abc']);
    conn.close();
  });

  it('drops exactly the connection whose header announces more than 4096 bytes', async () => {
    const victim = await RawConnection.open(path);
    const bystander = await RawConnection.open(path);
    const header = Buffer.alloc(16);
    header.writeUInt32LE(MessageType.READ, 0);
    header.writeUInt32LE(4097, 12);
    victim.sendBytes(header);
    await victim.waitClosed();
    const full = Buffer.alloc(16 + 4096);
    full.writeUInt32LE(MessageType.WRITE, 0);
    full.writeUInt32LE(4096, 12);
    full.write('/ok\0', 16, 'latin1');
    bystander.sendBytes(full);
    const reply = await bystander.next();
    expect([reply.type, toText(reply.payload)]).toEqual([MessageType.WRITE, 'OK\0']);
    bystander.close();
  });
});
