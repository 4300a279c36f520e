import { describe, expect, it } from 'vitest';
import { MessageType } from '../../src/xenstore/messages.ts';
import { joinStrings } from '../../src/xenstore/payload.ts';
import { XenstoreServer } from '../../src/xenstore/server.ts';
import type { XenstoreConnection } from '../../src/xenstore/transport/transport.ts';
import type { Message } from '../../src/xenstore/wire.ts';

/** Everything every connection received, in the order the server handed it on. */
interface Received {
  readonly conn: string;
  readonly message: Message;
}

function setUp() {
  const server = new XenstoreServer();
  const log: Received[] = [];
  const open = (name: string, fair = true): XenstoreConnection =>
    server.connect({ fair, onMessage: (message) => log.push({ conn: name, message }) });
  const request = (type: number, strings: string[], reqId = 1): Message => ({
    type,
    reqId,
    txId: 0,
    payload: joinStrings(strings),
  });
  const writes = (count: number) =>
    Array.from({ length: count }, (_, i) => request(MessageType.WRITE, ['/w/x', `${i}`], i + 1));
  const replies = (name: string) =>
    log.filter((r) => r.conn === name && r.message.type !== MessageType.WATCH_EVENT);
  return { server, log, open, request, writes, replies };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

async function settle(log: Received[]): Promise<void> {
  for (let seen = -1; seen !== log.length; ) {
    seen = log.length;
    for (let i = 0; i < 4; i++) await turn();
  }
}

describe('fair service', () => {
  it("answers a read sent during another connection's batch before the batch ends", async () => {
    const { log, open, request, writes, replies } = setUp();
    const watchers = Array.from({ length: 20 }, (_, i) => open(`watcher${i}`));
    for (const watcher of watchers) watcher.send(request(MessageType.WATCH, ['/w', 'tok']));
    const flooder = open('flooder');
    const reader = open('reader');
    for (const message of writes(100)) flooder.send(message);
    await turn();
    reader.send(request(MessageType.READ, ['/w/x'], 7));
    await settle(log);

    const flood = replies('flooder');
    expect(flood.map((r) => r.message.reqId)).toEqual(writes(100).map((m) => m.reqId));
    const read = log.findIndex((r) => r.conn === 'reader');
    expect(read).toBeGreaterThan(-1);
    expect(read).toBeLessThan(log.indexOf(flood.at(-1)!));
    // Nothing was lost to fairness: every watcher saw the registration and every write.
    for (let i = 0; i < 20; i++) {
      const events = log.filter(
        (r) => r.conn === `watcher${i}` && r.message.type === MessageType.WATCH_EVENT,
      );
      expect(events).toHaveLength(101);
    }
  });

  it("keeps a watcher's events for earlier writes ahead of its later reply", async () => {
    const { log, open, request, writes } = setUp();
    const watcher = open('watcher');
    watcher.send(request(MessageType.WATCH, ['/w', 'tok']));
    const writer = open('writer');
    for (const message of writes(50)) writer.send(message);
    await turn();
    await turn();
    watcher.send(request(MessageType.READ, ['/w/x'], 99));
    await settle(log);

    // The READ answers the value of the last write served before it; the watcher has the event
    // of that write, and of none after it, ahead of the reply.
    const own = log.filter((r) => r.conn === 'watcher').map((r) => r.message);
    const at = own.findIndex((m) => m.reqId === 99);
    const value = Number.parseInt(Buffer.from(own[at]!.payload).toString(), 10);
    const eventsBefore = own.slice(0, at).filter((m) => m.type === MessageType.WATCH_EVENT);
    // The registration event, then one per write served so far (values 0..value).
    expect(eventsBefore).toHaveLength(value + 2);
    expect(value).toBeLessThan(49);
  });

  it('hands a fan-out to one connection on over several turns, without holding others', async () => {
    const { log, open, request, replies } = setUp();
    const watcher = open('watcher');
    for (let i = 0; i < 1000; i++) watcher.send(request(MessageType.WATCH, [`/t/n${i}`, 'tok']));
    await settle(log);
    const dom0 = open('dom0', false);
    dom0.send(request(MessageType.TRANSACTION_START, [''], 1));
    const tx = Number(Buffer.from(replies('dom0')[0]!.message.payload).toString().slice(0, -1));
    for (let i = 0; i < 1000; i++) {
      dom0.send({ ...request(MessageType.WRITE, [`/t/n${i}`, 'v']), txId: tx });
    }
    log.length = 0;
    dom0.send({
      type: MessageType.TRANSACTION_END,
      reqId: 2,
      txId: tx,
      payload: joinStrings(['T']),
    });
    // The commit's reply is out at once; the watcher's 1,000 events only in part.
    expect(replies('dom0').map((r) => r.message.reqId)).toEqual([2]);
    const first = log.filter((r) => r.conn === 'watcher').length;
    expect(first).toBeLessThan(1000);
    const reader = open('reader');
    reader.send(request(MessageType.READ, ['/t/n0'], 3));
    expect(replies('reader')).toHaveLength(1);
    await settle(log);
    expect(log.filter((r) => r.conn === 'watcher')).toHaveLength(1000);
  });

  it('serves an ordinary connection synchronously, as before', () => {
    const { open, request, writes, replies } = setUp();
    const conn = open('plain', false);
    for (const message of writes(10)) conn.send(message);
    conn.send(request(MessageType.READ, ['/w/x'], 11));
    expect(replies('plain')).toHaveLength(11);
  });
});
