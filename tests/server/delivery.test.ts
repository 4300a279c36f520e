import { describe, expect, it } from 'vitest';
import { MessageType } from '../../src/xenstore/messages.ts';
import { decodeReply, decodeWatchEvent } from '../../src/xenstore/replies.ts';
import { encodeRequest } from '../../src/xenstore/requests.ts';
import { XenstoreServer } from '../../src/xenstore/server.ts';
import type { Message } from '../../src/xenstore/wire.ts';
import { Recorder, renderReply, scriptPayload } from './script.ts';

function kinds(messages: Message[]): string[] {
  return messages.map((m) =>
    m.type === MessageType.WATCH_EVENT
      ? `event ${decodeWatchEvent(m.payload).path}`
      : renderReply(m),
  );
}

describe('delivery', () => {
  it('queues the own-connection event before the reply that caused it', () => {
    const server = new XenstoreServer();
    const c = new Recorder(server, 0);
    c.request(MessageType.WATCH, scriptPayload('watch', ['/a', 't']));
    c.request(MessageType.WRITE, scriptPayload('write', ['/a/b', 'v']));
    expect(kinds(c.received)).toEqual(['OK', 'event /a', 'event /a/b', 'OK']);
  });

  it('sends tokens and @ paths back as the bytes they came in, UTF-8 or not', () => {
    const server = new XenstoreServer();
    const c = new Recorder(server, 0);
    const bytes = (...parts: number[][]) => Buffer.from(parts.flatMap((part) => [...part, 0]));
    const slash = [...Buffer.from('/a')];
    c.request(MessageType.WATCH, bytes(slash, [0xe9, 0xff]));
    c.request(MessageType.WATCH, bytes([0x40, 0xc3, 0x28], [0x74]));
    c.request(MessageType.WRITE, bytes(slash));
    const events = c.received.filter((m) => m.type === MessageType.WATCH_EVENT);
    expect(events.map((m) => [...m.payload])).toEqual([
      [...bytes(slash, [0xe9, 0xff])],
      [...bytes([0x40, 0xc3, 0x28], [0x74])],
      [...bytes(slash, [0xe9, 0xff])],
    ]);
  });

  it('echoes req_id and tx_id whatever they are, in replies and errors', () => {
    const server = new XenstoreServer();
    const c = new Recorder(server, 0);
    const ok = c.request(MessageType.READ, scriptPayload('read', ['/tool']), 0, 0xfffffffe);
    expect([ok.reqId, ok.txId]).toEqual([0xfffffffe, 0]);
    const err = c.request(MessageType.READ, scriptPayload('read', ['/tool']), 1234, 7);
    expect([err.type, err.reqId, err.txId, renderReply(err)]).toEqual([
      MessageType.ERROR,
      7,
      1234,
      'ENOENT',
    ]);
    const watch = c.request(MessageType.WATCH, scriptPayload('watch', ['/a', 't']), 99, 5);
    expect([watch.type, watch.txId]).toEqual([MessageType.WATCH, 99]);
    const event = c.received.at(-1)!;
    expect([event.type, event.reqId, event.txId]).toEqual([MessageType.WATCH_EVENT, 0, 0]);
  });

  it('answers E2BIG for a reply over 4096 bytes and DIRECTORY_PART pages through it', () => {
    const server = new XenstoreServer();
    const c = new Recorder(server, 0);
    const names: string[] = [];
    for (let i = 0; i < 60; i++) {
      const name = `child-${String(i).padStart(3, '0')}-${'x'.repeat(80)}`;
      names.push(name);
      c.request(MessageType.MKDIR, scriptPayload('mkdir', [`/big/${name}`]));
    }
    expect(renderReply(c.request(MessageType.DIRECTORY, scriptPayload('dir', ['/big'])))).toBe(
      'E2BIG',
    );
    const got: string[] = [];
    let offset = 0;
    let generation: string | undefined;
    for (;;) {
      const reply = c.request(
        MessageType.DIRECTORY_PART,
        scriptPayload('part', ['/big', String(offset)]),
      );
      expect(reply.payload.length).toBeLessThanOrEqual(4096);
      const part = decodeReply('DIRECTORY_PART', reply);
      generation ??= part.generation;
      expect(part.generation).toBe(generation);
      got.push(...part.children);
      offset += part.length;
      if (part.complete) break;
    }
    expect(got).toEqual(names);
  });

  it('never calls onMessage re-entrantly: sends from inside it are queued, in order', () => {
    const server = new XenstoreServer();
    const log: string[] = [];
    let depth = 0;
    const conn = server.connect({
      onMessage: (m) => {
        depth++;
        expect(depth).toBe(1);
        log.push(renderReply(m));
        if (m.reqId === 1) {
          conn.send(encodeRequest({ op: 'READ', path: '/x' }, { reqId: 2, txId: 0 }));
          log.push('sent 2');
        }
        depth--;
      },
    });
    conn.send(
      encodeRequest({ op: 'WRITE', path: '/x', value: Buffer.from('v') }, { reqId: 1, txId: 0 }),
    );
    log.push('returned');
    expect(log).toEqual(['OK', 'sent 2', 'v', 'returned']);
  });

  it('discards watches and transactions of a closed connection', () => {
    const server = new XenstoreServer();
    const a = new Recorder(server, 0);
    const b = new Recorder(server, 0);
    a.request(MessageType.WATCH, scriptPayload('watch', ['/', 't']));
    a.request(MessageType.TRANSACTION_START, scriptPayload('start', []));
    a.request(MessageType.WRITE, scriptPayload('write', ['/pending', 'v']), 1);
    a.conn.close();
    expect(a.closedWith).toBeUndefined();
    const before = a.received.length;
    b.request(MessageType.WRITE, scriptPayload('write', ['/after', 'v']));
    expect(a.received.length).toBe(before);
    expect(renderReply(b.request(MessageType.READ, scriptPayload('read', ['/pending'])))).toBe(
      'ENOENT',
    );
  });

  it('survives a throwing onMessage by closing only that connection', () => {
    const server = new XenstoreServer();
    let closed: Error | undefined;
    const bad = server.connect({
      onMessage: () => {
        throw new Error('client bug');
      },
      onClose: (reason) => {
        closed = reason;
      },
    });
    const good = new Recorder(server, 0);
    good.request(MessageType.WATCH, scriptPayload('watch', ['/', 't']));
    bad.send(
      encodeRequest({ op: 'WRITE', path: '/b', value: Buffer.from('1') }, { reqId: 1, txId: 0 }),
    );
    expect(closed?.message).toBe('client bug');
    expect(good.events()).toEqual(['/ t', '/b t']);
  });
});

describe('fault injection and coalescing', () => {
  it('fails a seeded fraction of commits with EAGAIN, reproducibly', () => {
    const outcomes = (seed: number) => {
      const server = new XenstoreServer({ commitFailureRate: 0.5, faultSeed: seed });
      const c = new Recorder(server, 0);
      const got: string[] = [];
      for (let i = 0; i < 40; i++) {
        const id = renderReply(
          c.request(MessageType.TRANSACTION_START, scriptPayload('start', [])),
        );
        c.request(MessageType.WRITE, scriptPayload('write', ['/f', String(i)]), Number(id));
        got.push(
          renderReply(
            c.request(MessageType.TRANSACTION_END, scriptPayload('commit', []), Number(id)),
          ),
        );
      }
      return got;
    };
    const first = outcomes(7);
    expect(first).toEqual(outcomes(7));
    expect(first).toContain('EAGAIN');
    expect(first).toContain('OK');
  });

  it('coalescing lets blind writes commit and replays them on the current store', () => {
    const server = new XenstoreServer({ conflicts: 'coalesce' });
    const c = new Recorder(server, 0);
    const o = new Recorder(server, 0);
    c.request(MessageType.WRITE, scriptPayload('write', ['/q/r', 'x']));
    c.request(MessageType.TRANSACTION_START, scriptPayload('start', []));
    c.request(MessageType.WRITE, scriptPayload('write', ['/q/s', 'tx']), 1);
    o.request(MessageType.WRITE, scriptPayload('write', ['/q/t', 'other']));
    expect(
      renderReply(c.request(MessageType.TRANSACTION_END, scriptPayload('commit', []), 1)),
    ).toBe('OK');
    expect(renderReply(c.request(MessageType.DIRECTORY, scriptPayload('dir', ['/q'])))).toBe(
      'r,t,s',
    );
    c.request(MessageType.TRANSACTION_START, scriptPayload('start', []));
    c.request(MessageType.READ, scriptPayload('read', ['/q/r']), 2);
    o.request(MessageType.WRITE, scriptPayload('write', ['/q/r', 'changed']));
    c.request(MessageType.WRITE, scriptPayload('write', ['/q/u', 'y']), 2);
    expect(
      renderReply(c.request(MessageType.TRANSACTION_END, scriptPayload('commit', []), 2)),
    ).toBe('EAGAIN');
  });
});

describe('callbacks that throw', () => {
  it('a throwing trace sink or onClose does not stop the server', () => {
    const server = new XenstoreServer({
      trace: () => {
        throw new Error('sink broken');
      },
    });
    const conn = server.connect({
      onMessage: () => {},
      onClose: () => {
        throw new Error('close handler broken');
      },
    });
    conn.send(
      encodeRequest({ op: 'WRITE', path: '/t', value: Buffer.from('1') }, { reqId: 1, txId: 0 }),
    );
    conn.close();
    const other = new Recorder(server, 0);
    expect(renderReply(other.request(MessageType.READ, scriptPayload('read', ['/t'])))).toBe('1');
  });
});
