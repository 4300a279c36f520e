import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MessageFramer } from '../../src/xenstore/framer.ts';
import { MessageType } from '../../src/xenstore/messages.ts';
import { toText } from '../../src/xenstore/payload.ts';
import { encodeRequest, type Request } from '../../src/xenstore/requests.ts';
import { XenstoreServer } from '../../src/xenstore/server/server.ts';
import {
  type Listener,
  type ListenOptions,
  listenAccepting,
} from '../../src/xenstore/transport/socket-listener.ts';
import { encodeMessage } from '../../src/xenstore/wire.ts';
import { RawConnection } from '../support/raw-connection.ts';
import { ACCEPT_WAYS } from './support/acceptors.ts';

const GUEST = 5;
const turn = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function request(request: Request, reqId: number): Buffer {
  return encodeMessage(encodeRequest(request, { reqId, txId: 0 }));
}

function connect(path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** The unix-socket listener frames each connection's bytes, whatever their chunking. */
describe.each(ACCEPT_WAYS)('socket listener, connections $name', ({ acceptor, available }) => {
  let dir: string;
  let server: XenstoreServer;
  let listener: Listener;
  let path: string;
  const extra: Listener[] = [];

  const listen = async (options: Omit<ListenOptions, 'path'>, name: string) => {
    const opened = await listenAccepting(server, { path: join(dir, name), ...options }, acceptor);
    extra.push(opened);
    return opened;
  };

  beforeAll(async () => {
    if (!available) return;
    dir = mkdtempSync(join(tmpdir(), 'xenwire-listener-'));
    path = join(dir, 'xs.sock');
    server = new XenstoreServer();
    listener = await listenAccepting(server, { path, busyPoll: false }, acceptor);
  });

  afterEach(async () => {
    await Promise.all(extra.splice(0).map((opened) => opened.close()));
  });

  afterAll(async () => {
    if (!available) return;
    await listener.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!available)(
    'reassembles requests split over writes and several in one write',
    async () => {
      const conn = await RawConnection.open(path);
      const bytes = Buffer.concat([
        request({ op: 'WRITE', path: '/s', value: Buffer.from('abc') }, 1),
        request({ op: 'READ', path: '/s' }, 2),
      ]);
      // A byte at a time, each in its own turn of the event loop, then the rest at once.
      for (const byte of bytes.subarray(0, 20)) {
        conn.sendBytes(Buffer.of(byte));
        await sleep(1);
      }
      conn.sendBytes(bytes.subarray(20));
      const first = await conn.next();
      const second = await conn.next();
      expect([first.reqId, toText(first.payload)]).toEqual([1, 'OK\0']);
      expect([second.reqId, toText(second.payload)]).toEqual([2, 'abc']);
      conn.close();
    },
  );

  it.skipIf(!available)(
    'answers every connection its own requests, however their bytes interleave',
    async () => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          // Per connection, the values it writes (each write then read back).
          fc.array(fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { maxLength: 12 }), {
            minLength: 1,
            maxLength: 6,
          }),
          // Which connection sends its next piece, how long the piece is, and whether the
          // event loop turns before the next one.
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 700 }), fc.boolean()), {
            maxLength: 60,
          }),
          async (values, steps) => {
            run++;
            const conns = await Promise.all(values.map(() => RawConnection.open(path)));
            const streams = values.map((written, k) =>
              Buffer.concat(
                written.flatMap((value, j) => [
                  request({ op: 'WRITE', path: `/p/${run}/${k}`, value: Buffer.from(value) }, j),
                  request({ op: 'READ', path: `/p/${run}/${k}` }, j),
                ]),
              ),
            );
            const sent = values.map(() => 0);
            for (const [which, length, yields] of steps) {
              const k = which % conns.length;
              conns[k]!.sendBytes(streams[k]!.subarray(sent[k], sent[k]! + length));
              sent[k] = Math.min(streams[k]!.length, sent[k]! + length);
              if (yields) await turn();
            }
            for (const [k, conn] of conns.entries()) conn.sendBytes(streams[k]!.subarray(sent[k]));
            for (const [k, conn] of conns.entries()) {
              for (const [j, value] of values[k]!.entries()) {
                const wrote = await conn.next();
                expect([wrote.type, wrote.reqId, toText(wrote.payload)]).toEqual([
                  MessageType.WRITE,
                  j,
                  'OK\0',
                ]);
                const read = await conn.next();
                expect([read.type, read.reqId]).toEqual([MessageType.READ, j]);
                expect(Buffer.from(read.payload)).toEqual(Buffer.from(value));
              }
            }
            for (const conn of conns) conn.close();
          },
        ),
        { numRuns: 25 },
      );
    },
  );

  it.skipIf(!available)(
    'drops exactly the connection whose header announces more than 4096 bytes',
    async () => {
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
    },
  );

  it.skipIf(!available)(
    'serves at most maxConnections at once and takes new ones as others leave',
    async () => {
      const limited = await listen({ maxConnections: 3 }, 'limited.sock');
      const conns = await Promise.all(
        Array.from({ length: 5 }, () => RawConnection.open(limited.path)),
      );
      const answered = async (conn: RawConnection) => {
        try {
          const { reply } = await conn.exchange(
            encodeRequest({ op: 'READ', path: '/' }, { reqId: 1, txId: 0 }),
          );
          return reply.type === MessageType.READ;
        } catch {
          return false;
        }
      };
      const outcomes = await Promise.all(conns.map(answered));
      expect(outcomes.filter(Boolean)).toHaveLength(3);
      for (const [i, conn] of conns.entries()) expect(conn.closed).toBe(!outcomes[i]);
      conns[outcomes.indexOf(true)]!.close();
      // Until the server has seen that one go, a newcomer may still be turned away.
      let newcomer = false;
      for (let attempt = 0; attempt < 100 && !newcomer; attempt++) {
        newcomer = await answered(await RawConnection.open(limited.path));
      }
      expect(newcomer).toBe(true);
      for (const conn of conns) conn.close();
    },
  );

  it.skipIf(!available)(
    'on close ends its connections, removes its socket file and refuses no more',
    async () => {
      const closing = await listenAccepting(
        server,
        { path: join(dir, 'closing.sock'), busyPoll: false },
        acceptor,
      );
      const conns = await Promise.all(
        Array.from({ length: 20 }, () => RawConnection.open(closing.path)),
      );
      for (const conn of conns) {
        const { reply } = await conn.exchange(
          encodeRequest({ op: 'READ', path: '/' }, { reqId: 1, txId: 0 }),
        );
        expect(reply.type).toBe(MessageType.READ);
      }
      await closing.close();
      expect(existsSync(closing.path)).toBe(false);
      await Promise.all(conns.map((conn) => conn.waitClosed()));
      await expect(connect(closing.path)).rejects.toMatchObject({ code: 'ENOENT' });
    },
  );

  it.skipIf(!available)(
    'refuses connections on a guest socket once the guest is released',
    async () => {
      const guest = await listen({ domid: GUEST }, 'guest.sock');
      const before = await RawConnection.open(guest.path);
      const { reply } = await before.exchange(
        encodeRequest({ op: 'GET_DOMAIN_PATH', domid: GUEST }, { reqId: 1, txId: 0 }),
      );
      expect(toText(reply.payload)).toBe(`/local/domain/${GUEST}\0`);
      server.releaseDomain(GUEST);
      await before.waitClosed();
      const after = await RawConnection.open(guest.path);
      await after.waitClosed();
      await expect(
        after.exchange(encodeRequest({ op: 'READ', path: '/' }, { reqId: 2, txId: 0 })),
      ).rejects.toMatchObject({ code: 'ECONNRESET' });
    },
  );

  it.skipIf(!available)(
    'stops reading a guest that does not read its replies, and loses nothing once it does',
    async () => {
      const guest = await listen({ domid: GUEST }, 'flood.sock');
      const dom0 = await RawConnection.open(path);
      const big = `/local/domain/${GUEST}/big`;
      await dom0.exchange(
        encodeRequest(
          { op: 'WRITE', path: big, value: Buffer.alloc(4000, 0x61) },
          { reqId: 1, txId: 0 },
        ),
      );
      await dom0.exchange(
        encodeRequest(
          { op: 'SET_PERMS', path: big, perms: [{ access: 'n', domid: GUEST }] },
          { reqId: 2, txId: 0 },
        ),
      );
      const socket = await connect(guest.path);
      socket.pause();
      // 40 MB of replies against the guest's 2.5 MB memory quota, and more requests than the
      // kernel's socket buffers hold: a server that read them all would queue the replies.
      const count = 10_000;
      const read = request({ op: 'READ', path: big }, 7);
      socket.write(Buffer.concat(Array.from({ length: count }, () => read)));
      await sleep(300);
      // The server stopped reading: part of the requests is still on the guest's side.
      expect(socket.writableLength).toBeGreaterThan(0);
      // Meanwhile dom0 is answered.
      const { reply } = await dom0.exchange(
        encodeRequest({ op: 'READ', path: '/' }, { reqId: 3, txId: 0 }),
      );
      expect(reply.type).toBe(MessageType.READ);
      const framer = new MessageFramer();
      let replies = 0;
      await new Promise<void>((resolve, reject) => {
        socket.on('data', (chunk) => {
          for (const m of framer.push(chunk)) {
            if (m.type !== MessageType.READ || m.payload.length !== 4000)
              reject(new Error('bad reply'));
            replies++;
          }
          if (replies === count) resolve();
        });
        socket.resume();
      });
      expect(replies).toBe(count);
      socket.destroy();
      dom0.close();
    },
  );
});
