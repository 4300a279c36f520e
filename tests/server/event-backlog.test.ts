import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HEADER_SIZE } from '../../src/xenstore/constants.ts';
import { MessageFramer } from '../../src/xenstore/framer.ts';
import { MessageType } from '../../src/xenstore/messages.ts';
import { joinStrings } from '../../src/xenstore/payload.ts';
import { socketListener, XenstoreServer } from '../../src/xenstore/server.ts';
import { encodeMessage, type Message } from '../../src/xenstore/wire.ts';

const GUEST = 5;
const QUOTA = 2048;

/** A server whose guest may read `/watched`, with a small memory quota. */
function setUp() {
  const server = new XenstoreServer({ quotas: { memory: QUOTA } });
  // Before the permissions name it: an entry for a domain born later does not count.
  server.introduceDomain(GUEST, 0, 1);
  const dom0: Message[] = [];
  const admin = server.connect({ onMessage: (m) => dom0.push(m) });
  const send = (type: number, strings: string[]) =>
    admin.send({ type, reqId: 1, txId: 0, payload: joinStrings(strings) });
  send(MessageType.MKDIR, ['/watched']);
  send(MessageType.SET_PERMS, ['/watched', 'n0', `r${GUEST}`]);
  const write = (i: number) => send(MessageType.WRITE, [`/watched/node-${i}`, 'x']);
  return { server, write };
}

/** Connects as `domid`, with a peer that reads only when told to; returns what it has read. */
function slowReader(server: XenstoreServer, domid: number) {
  let unread: Message[] = [];
  const read: Message[] = [];
  const conn = server.connect({
    domid,
    onMessage: (m) => unread.push(m),
    backlog: () => unread.reduce((n, m) => n + HEADER_SIZE + m.payload.length, 0),
  });
  conn.send({
    type: MessageType.WATCH,
    reqId: 7,
    txId: 0,
    payload: joinStrings(['/watched', 'tok']),
  });
  return {
    read,
    catchUp() {
      read.push(...unread);
      unread = [];
    },
    events: () => read.filter((m) => m.type === MessageType.WATCH_EVENT).length,
  };
}

describe('watch events for a peer that does not read', () => {
  it('are dropped for a guest once its backlog would exceed its memory quota, then flow again', () => {
    const { server, write } = setUp();
    const guest = slowReader(server, GUEST);
    for (let i = 0; i < 500; i++) write(i);
    guest.catchUp();
    // The reply, the registration event and as many events as fit in 2,048 bytes (about 37 bytes
    // each), not 500.
    const events = guest.events();
    expect(events).toBeGreaterThan(10);
    expect(events).toBeLessThan(60);
    const bytes = guest.read.reduce((n, m) => n + HEADER_SIZE + m.payload.length, 0);
    expect(bytes).toBeLessThanOrEqual(QUOTA);
    // Caught up: the next change is delivered.
    write(1000);
    guest.catchUp();
    expect(guest.events()).toBe(events + 1);
  });

  it('are all kept for a privileged connection, as C exempts dom0 from quotas', () => {
    const { server, write } = setUp();
    const dom0 = slowReader(server, 0);
    for (let i = 0; i < 500; i++) write(i);
    dom0.catchUp();
    expect(dom0.events()).toBe(501);
  });

  it('stay bounded for a guest socket that stops reading', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenwire-backlog-'));
    const { server, write } = setUp();
    const listener = await socketListener(server, { path: join(dir, 'dom5.sock'), domid: GUEST });
    try {
      const socket = net.connect(join(dir, 'dom5.sock'));
      const framer = new MessageFramer();
      let events = 0;
      socket.on('data', (chunk) => {
        for (const m of framer.push(chunk)) if (m.type === MessageType.WATCH_EVENT) events++;
      });
      const registered = new Promise<void>((resolve) => {
        const check = () => (events > 0 ? resolve() : setImmediate(check));
        check();
      });
      socket.write(
        encodeMessage({
          type: MessageType.WATCH,
          reqId: 1,
          txId: 0,
          payload: joinStrings(['/watched', 'tok']),
        }),
      );
      await registered;
      socket.pause();
      // Far more than the kernel's socket buffers hold: the rest must be dropped, not queued.
      const changes = 40_000;
      for (let i = 0; i < changes; i++) write(i);
      socket.resume();
      const settled = async () => {
        let last = -1;
        while (last !== events) {
          last = events;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      };
      await settled();
      expect(events).toBeGreaterThan(1);
      expect(events).toBeLessThan(changes);
      // Caught up: the next change arrives.
      const before = events;
      write(changes);
      await settled();
      expect(events).toBe(before + 1);
      socket.destroy();
    } finally {
      await listener.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
