import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MessageFramer } from '../../src/xenstore/framer.ts';
import { MessageType } from '../../src/xenstore/messages.ts';
import { encodeRequest, type Request } from '../../src/xenstore/requests.ts';
import {
  serve,
  socketListener,
  type TraceRecord,
  XenstoreServer,
} from '../../src/xenstore/server.ts';
import { encodeMessage, type Message } from '../../src/xenstore/wire.ts';
import { Recorder, renderReply, scriptPayload } from './script.ts';

describe('dump and load', () => {
  it('round-trips nodes, values (text and bytes), permissions, child order and domains', () => {
    const server = new XenstoreServer();
    const c = new Recorder(server, 0);
    c.request(MessageType.WRITE, scriptPayload('write', ['/d/z', 'text']));
    c.request(MessageType.WRITE, Buffer.from('/d/a\0\x00\xff\x01', 'latin1'));
    c.request(MessageType.SET_PERMS, scriptPayload('setperms', ['/d/a', 'r0', 'w0']));
    c.request(MessageType.INTRODUCE, scriptPayload('introduce', ['5', '77', '3']));
    const json = JSON.stringify(server.dump());
    const copy = XenstoreServer.load(json);
    const d = new Recorder(copy, 0);
    expect(renderReply(d.request(MessageType.DIRECTORY, scriptPayload('dir', ['/d'])))).toBe('z,a');
    expect(renderReply(d.request(MessageType.READ, scriptPayload('read', ['/d/a'])))).toBe(
      '\x00\xff\x01',
    );
    expect(renderReply(d.request(MessageType.GET_PERMS, scriptPayload('perms', ['/d/a'])))).toBe(
      'r0,w0',
    );
    expect(
      renderReply(d.request(MessageType.IS_DOMAIN_INTRODUCED, scriptPayload('isintro', ['5']))),
    ).toBe('T');
    expect(JSON.stringify(copy.dump())).toBe(json);
  });

  it('keeps entries that count for nobody void: for a domain then missing, or lapsed', () => {
    const server = new XenstoreServer();
    const c = new Recorder(server, 0);
    const send = (type: number, op: string, ...args: string[]) =>
      renderReply(c.request(type, scriptPayload(op, args)));
    send(MessageType.INTRODUCE, 'introduce', '5', '1', '3');
    send(MessageType.WRITE, 'write', '/n', 'v');
    send(MessageType.SET_PERMS, 'setperms', '/n', 'n0', 'r5', 'r6');
    send(MessageType.SET_PERMS, 'setperms', '@releaseDomain', 'n0', 'r5');
    send(MessageType.RELEASE, 'release', '5');
    send(MessageType.INTRODUCE, 'introduce', '5', '1', '3');
    send(MessageType.INTRODUCE, 'introduce', '6', '1', '4');
    const json = JSON.stringify(server.dump());
    const copy = XenstoreServer.load(json);
    const five = new Recorder(copy, 5);
    const six = new Recorder(copy, 6);
    expect(renderReply(five.request(MessageType.READ, scriptPayload('read', ['/n'])))).toBe(
      'EACCES',
    );
    expect(renderReply(six.request(MessageType.READ, scriptPayload('read', ['/n'])))).toBe(
      'EACCES',
    );
    five.request(MessageType.WATCH, scriptPayload('watch', ['@releaseDomain', 'r']));
    five.events();
    copy.releaseDomain(6);
    expect(five.events()).toEqual([]);
    const d = new Recorder(copy, 0);
    expect(renderReply(d.request(MessageType.GET_PERMS, scriptPayload('perms', ['/n'])))).toBe(
      'n0,r5,r6',
    );
  });

  it('seeds create missing ancestors and share inherited permissions', () => {
    const server = new XenstoreServer({
      seed: { nodes: [{ path: '/a/b/c', value: 'v', perms: ['r0'] }, { path: '/a/b/c/d' }] },
    });
    const c = new Recorder(server, 0);
    expect(
      renderReply(c.request(MessageType.GET_PERMS, scriptPayload('perms', ['/a/b/c/d']))),
    ).toBe('r0');
    expect(server.store.get('/a/b/c/d')!.perms).toBe(server.store.get('/a/b/c')!.perms);
    expect(() => new XenstoreServer({ seed: { nodes: [{ path: 'rel' }] } })).toThrow(/relative/);
  });

  it('traces every message in and out', () => {
    const records: TraceRecord[] = [];
    const server = new XenstoreServer({ trace: (r) => records.push(r) });
    const c = new Recorder(server, 0);
    c.request(MessageType.READ, scriptPayload('read', ['/tool']));
    expect(records.map((r) => [r.direction, r.type, r.payload])).toEqual([
      ['in', 'READ', '/tool\0'],
      ['out', 'READ', ''],
    ]);
  });
});

function socketClient(path: string) {
  const socket = net.connect(path);
  const framer = new MessageFramer();
  const waiting: ((m: Message) => void)[] = [];
  const early: Message[] = [];
  socket.on('data', (chunk) => {
    for (const m of framer.push(chunk)) {
      const next = waiting.shift();
      if (next) next(m);
      else early.push(m);
    }
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  return {
    request(request: Request, txId = 0): Promise<Message> {
      socket.write(encodeMessage(encodeRequest(request, { reqId: 1, txId })));
      return this.next();
    },
    next(): Promise<Message> {
      const ready = early.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve) => waiting.push(resolve));
    },
    raw(bytes: Buffer) {
      socket.write(bytes);
    },
    closed,
    end: () => socket.destroy(),
  };
}

describe('unix sockets', () => {
  it('serves dom0 and guest sockets, and removes the files on close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenwire-serve-'));
    const served = await serve({
      socketPath: join(dir, 'xs.sock'),
      guestDomains: [5],
      guestSocketDir: dir,
      trace: join(dir, 'trace.jsonl'),
    });
    const dom0 = socketClient(served.socketPath);
    expect(renderReply(await dom0.request({ op: 'READ', path: '/local/domain/0/name' }))).toBe(
      'Domain-0',
    );
    expect(renderReply(await dom0.request({ op: 'IS_DOMAIN_INTRODUCED', domid: 5 }))).toBe('T');
    const guest = socketClient(join(dir, 'dom5.sock'));
    expect(renderReply(await guest.request({ op: 'READ', path: 'name' }))).toBe('guest5');
    expect(renderReply(await guest.request({ op: 'READ', path: '/local/domain/0/name' }))).toBe(
      'EACCES',
    );
    expect(renderReply(await guest.request({ op: 'IS_DOMAIN_INTRODUCED', domid: 0 }))).toBe(
      'EACCES',
    );
    expect(
      renderReply(await guest.request({ op: 'WRITE', path: 'data/x', value: Buffer.from('1') })),
    ).toBe('OK');
    const bad = socketClient(served.socketPath);
    const header = Buffer.alloc(16);
    header.writeUInt32LE(4097, 12);
    bad.raw(header);
    await bad.closed;
    expect(renderReply(await dom0.request({ op: 'READ', path: '/local/domain/5/data/x' }))).toBe(
      '1',
    );
    expect(renderReply(await dom0.request({ op: 'RELEASE', domid: 5 }))).toBe('OK');
    await guest.closed;
    await socketClient(join(dir, 'dom5.sock')).closed;
    dom0.end();
    await served.close();
    expect(existsSync(served.socketPath)).toBe(false);
    expect(existsSync(join(dir, 'dom5.sock'))).toBe(false);
    const trace = readFileSync(join(dir, 'trace.jsonl'), 'utf8').trim().split('\n');
    expect(trace.length).toBeGreaterThanOrEqual(10);
    expect(JSON.parse(trace[0]!)).toMatchObject({ direction: 'in', type: 'READ' });
  });

  it('keeps serving a client that reads its replies late, losing nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenwire-late-'));
    const server = new XenstoreServer();
    const listener = await socketListener(server, { path: join(dir, 'xs.sock') });
    const value = Buffer.alloc(4000, 0x61);
    const setup = socketClient(listener.path);
    expect(renderReply(await setup.request({ op: 'WRITE', path: '/big', value }))).toBe('OK');
    setup.end();
    const socket = net.connect(listener.path);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.pause();
    const count = 3000;
    const read = encodeMessage(encodeRequest({ op: 'READ', path: '/big' }, { reqId: 1, txId: 0 }));
    socket.write(Buffer.concat(Array.from({ length: count }, () => read)));
    const framer = new MessageFramer();
    let replies = 0;
    await new Promise<void>((resolve) => {
      socket.on('data', (chunk) => {
        for (const m of framer.push(chunk)) {
          expect(m.payload.length).toBe(4000);
          replies++;
        }
        if (replies === count) resolve();
      });
      socket.resume();
    });
    socket.destroy();
    await listener.close();
  });
});
