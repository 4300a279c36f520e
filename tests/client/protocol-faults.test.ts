import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { XenstoreClient, type XenstoreClientOptions } from '../../src/xenstore/client.ts';
import type { XenstoreError } from '../../src/xenstore/errors.ts';
import { MessageType } from '../../src/xenstore/messages.ts';
import { joinStrings } from '../../src/xenstore/payload.ts';
import { decodeRequest } from '../../src/xenstore/requests.ts';
import { encodeMessage } from '../../src/xenstore/wire.ts';
import { rejection, until } from './expectations.ts';
import { type FakeConnection, FakeServer, opOf } from './fake-server.ts';

describe('client against a scripted server', () => {
  let server: FakeServer;
  let xs: XenstoreClient;
  let conn: FakeConnection;
  let diagnostics: XenstoreError[];

  async function open(options: XenstoreClientOptions = {}): Promise<void> {
    const accepted = server.accept();
    xs = await XenstoreClient.connect({ socketPath: server.path, ...options });
    conn = await accepted;
    diagnostics = [];
    xs.on('diagnostic', (error) => diagnostics.push(error));
  }

  beforeEach(async () => {
    server = await FakeServer.start();
  });
  afterEach(async () => {
    await xs?.close();
    await server.stop();
  });

  it('matches replies that come back out of order', async () => {
    await open();
    const reads = ['/a', '/b', '/c'].map((path) => xs.readString(path));
    const requests = await conn.receiveMany(3);
    for (const request of [...requests].reverse()) {
      const { path } = decodeRequest(request) as { path: string };
      conn.reply(request, `value of ${path}`);
    }
    expect(await Promise.all(reads)).toEqual(['value of /a', 'value of /b', 'value of /c']);
    expect(new Set(requests.map((r) => r.reqId)).size).toBe(3);
  });

  it('matches any order of replies cut at any byte boundaries', async () => {
    await open();
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 1, max: 40 })
          .chain((n) =>
            fc.tuple(
              fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }),
              fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
            ),
          ),
        async ([order, cuts]) => {
          const reads = order.map((i) => xs.readString(`/n${i}`));
          const requests = await conn.receiveMany(order.length);
          const replies = order.map((i) => {
            const request = requests[i]!;
            const { path } = decodeRequest(request) as { path: string };
            return encodeMessage({ ...request, payload: Buffer.from(`value of ${path}`) });
          });
          const stream = Buffer.concat(replies);
          let at = 0;
          for (let k = 0; at < stream.length; k++) {
            const size = cuts[k % cuts.length]!;
            conn.sendRaw(stream.subarray(at, at + size));
            at += size;
            await new Promise(setImmediate);
          }
          expect(await Promise.all(reads)).toEqual(order.map((i) => `value of /n${i}`));
        },
      ),
      { numRuns: 25 },
    );
    expect(diagnostics).toEqual([]);
  });

  it('drops a reply to an unknown req_id and an event for an unknown token, and carries on', async () => {
    await open();
    const read = xs.readString('/a');
    const request = await conn.receive();
    conn.send({ ...request, reqId: request.reqId + 1000, payload: Buffer.from('stray') });
    conn.fire('/somewhere', 'not-a-token');
    conn.send({ type: MessageType.WATCH_EVENT, reqId: 0, txId: 0, payload: Buffer.from('junk') });
    conn.reply(request, 'real');
    expect(await read).toBe('real');
    expect(diagnostics.map((d) => d.code)).toEqual(['EPROTO', 'EPROTO', 'EPROTO']);
    expect(diagnostics[0]!.message).toMatch(/unknown req_id/);
    expect(diagnostics[1]!.message).toMatch(/unknown token/);
    expect(xs.open).toBe(true);
  });

  it('fails only the request whose reply is malformed or of the wrong type', async () => {
    await open();
    const wrongType = xs.read('/a');
    const malformed = xs.directory('/b');
    const fine = xs.readString('/c');
    const [r1, r2, r3] = await conn.receiveMany(3);
    conn.send({ ...r1!, type: 77, payload: Buffer.from('?') });
    conn.reply(r2!, 'no-trailing-nul');
    conn.reply(r3!, 'ok');
    const e1 = await rejection(wrongType);
    expect([e1.code, e1.op, e1.path]).toEqual(['EPROTO', 'READ', '/a']);
    const e2 = await rejection(malformed);
    expect([e2.code, e2.op, e2.path]).toEqual(['EPROTO', 'DIRECTORY', '/b']);
    expect(await fine).toBe('ok');
  });

  it('passes the server’s error name through, unknown names as EINVAL', async () => {
    await open();
    const a = xs.read('/a');
    const b = xs.read('/b');
    const [ra, rb] = await conn.receiveMany(2);
    conn.fail(ra!, 'EACCES');
    conn.fail(rb!, 'EWHATEVER');
    expect((await rejection(a)).code).toBe('EACCES');
    expect((await rejection(b)).code).toBe('EINVAL');
  });

  it('closes the connection on a header announcing more than 4096 bytes, failing all with EPROTO', async () => {
    await open();
    const read = xs.read('/a');
    const closed = new Promise<Error | undefined>((resolve) => xs.once('close', resolve));
    await conn.receive();
    const header = Buffer.alloc(16);
    header.writeUInt32LE(MessageType.READ, 0);
    header.writeUInt32LE(1, 4);
    header.writeUInt32LE(4097, 12);
    conn.sendRaw(header);
    const error = await rejection(read);
    expect(error.code).toBe('EPROTO');
    expect((error.cause as XenstoreError).code).toBe('EPROTO');
    expect(((await closed) as XenstoreError).cause).toMatchObject({ code: 'EPROTO' });
    expect(xs.open).toBe(false);
    await conn.closed;
  });

  it('times out a request that is never answered, and takes its late reply quietly', async () => {
    await open({ timeout: 30 });
    const read = xs.read('/slow');
    const request = await conn.receive();
    const error = await rejection(read);
    expect([error.code, error.op, error.path]).toEqual(['ETIMEDOUT', 'READ', '/slow']);
    expect(xs.pendingRequests).toBe(0);
    conn.reply(request, 'late');
    const next = xs.readString('/next', { timeout: 0 });
    conn.reply(await conn.receive(), 'next');
    expect(await next).toBe('next');
    expect(diagnostics).toEqual([]);
  });

  it('rejects an aborted request with ABORT_ERR', async () => {
    await open();
    const controller = new AbortController();
    const read = xs.read('/a', { signal: controller.signal });
    await conn.receive();
    controller.abort();
    const error = await rejection(read);
    expect([error.code, error.op]).toEqual(['ABORT_ERR', 'READ']);
    expect((await rejection(xs.read('/a', { signal: controller.signal }))).code).toBe('ABORT_ERR');
  });

  it('undoes a watch and a transaction whose replies came after they were given up', async () => {
    await open({ timeout: 30 });
    const watch = xs.watch('/w');
    const watchRequest = await conn.receive();
    expect((await rejection(watch)).code).toBe('ETIMEDOUT');
    const tx = xs.transactionStart();
    const txRequest = await conn.receive();
    expect((await rejection(tx)).code).toBe('ETIMEDOUT');
    const token = (decodeRequest(watchRequest) as { token: string }).token;
    conn.fire('/w', token);
    conn.reply(watchRequest);
    const unwatch = await conn.receive();
    expect(decodeRequest(unwatch)).toEqual(
      decodeRequest({ ...watchRequest, type: MessageType.UNWATCH }),
    );
    conn.reply(txRequest, '42\0');
    const end = await conn.receive();
    expect([opOf(end), end.txId, Buffer.from(end.payload).toString()]).toEqual([
      'TRANSACTION_END',
      42,
      'F\0',
    ]);
    expect(diagnostics).toEqual([]);
  });

  it('fails everything pending with ECONNRESET when the connection is cut mid-message', async () => {
    await open();
    const watch = xs.watch('/w');
    const watchRequest = await conn.receive();
    conn.reply(watchRequest);
    const w = await watch;
    const token = (decodeRequest(watchRequest) as { token: string }).token;
    conn.fire('/w', token);
    conn.fire('/w/x', token);
    const read = xs.read('/a');
    const readRequest = await conn.receive();
    const reply = Buffer.concat([Buffer.alloc(16), Buffer.from('partial')]);
    reply.writeUInt32LE(MessageType.READ, 0);
    reply.writeUInt32LE(readRequest.reqId, 4);
    reply.writeUInt32LE(100, 12);
    conn.sendRaw(reply.subarray(0, 20));
    await until(() => w.queued === 2);
    conn.cut();
    const error = await rejection(read);
    expect(error.code).toBe('ECONNRESET');
    expect(error.message).toMatch(/20 bytes into a message/);
    // Events already received are still handed out, then the iterator throws the error.
    const paths: string[] = [];
    const ended = await (async () => {
      try {
        for await (const event of w) paths.push(event.path);
      } catch (e) {
        return e as XenstoreError;
      }
      return undefined;
    })();
    expect(paths).toEqual(['/w', '/w/x']);
    expect(ended?.code).toBe('ECONNRESET');
    expect((await rejection(xs.read('/a'))).code).toBe('ECONNRESET');
  });

  it('reconnects, registers watches again and reports lost transactions', async () => {
    await open({ reconnect: { initialDelay: 1 } });
    const watch = xs.watch('/w');
    const watchRequest = await conn.receive();
    conn.reply(watchRequest);
    const w = await watch;
    const tx = xs.transactionStart();
    conn.reply(await conn.receive(), '7\0');
    const transaction = await tx;
    const read = xs.read('/a');
    await conn.receive();
    const reconnected = new Promise((resolve) => xs.once('reconnect', resolve));
    const second = server.accept();
    conn.cut();
    expect((await rejection(read)).code).toBe('ECONNRESET');
    const conn2 = await second;
    const again = await conn2.receive();
    expect(decodeRequest(again)).toEqual(decodeRequest(watchRequest));
    conn2.reply(again);
    expect(await reconnected).toEqual({ lostTransactions: 1, watches: 1 });
    expect(transaction.active).toBe(false);
    expect((await rejection(transaction.read('/x'))).code).toBe('ECONNRESET');
    conn2.fire('/w', w.token);
    const first = await w[Symbol.asyncIterator]().next();
    expect(first.value?.path).toBe('/w');
    const after = xs.readString('/b');
    conn2.reply(await conn2.receive(), 'b');
    expect(await after).toBe('b');
  });

  it('switches to DIRECTORY_PART on E2BIG and restarts when the generation changes', async () => {
    await open();
    const listing = xs.directory('/big');
    conn.fail(await conn.receive(), 'E2BIG');
    const part = async (offset: number, payload: Buffer) => {
      const request = await conn.receive();
      expect(decodeRequest(request)).toEqual({ op: 'DIRECTORY_PART', path: '/big', offset });
      conn.reply(request, payload);
    };
    await part(0, joinStrings(['5', 'a', 'b']));
    await part(4, joinStrings(['6', 'c']));
    await part(0, joinStrings(['6', 'a', 'b']));
    await part(4, Buffer.concat([joinStrings(['6', 'c', 'd']), Buffer.of(0)]));
    expect(await listing).toEqual(['a', 'b', 'c', 'd']);
  });

  it('surfaces E2BIG when the server has no DIRECTORY_PART', async () => {
    await open();
    const listing = xs.directory('/big');
    conn.fail(await conn.receive(), 'E2BIG');
    conn.fail(await conn.receive(), 'ENOSYS');
    const error = await rejection(listing);
    expect([error.code, error.op, error.path]).toEqual(['E2BIG', 'DIRECTORY', '/big']);
  });

  it('surfaces ENOSYS from a server without quotas or features', async () => {
    await open();
    const quota = xs.getQuota('nodes', 3);
    const feature = xs.getFeature();
    const [q, f] = await conn.receiveMany(2);
    expect(Buffer.from(q!.payload).toString()).toBe('3\0nodes\0');
    conn.fail(q!, 'ENOSYS');
    conn.fail(f!, 'ENOSYS');
    expect((await rejection(quota)).code).toBe('ENOSYS');
    expect((await rejection(feature)).code).toBe('ENOSYS');
  });

  it('gives up on transactions after maxAttempts EAGAINs', async () => {
    await open();
    let attempts = 0;
    const run = xs.transaction(
      async () => {
        attempts++;
      },
      { maxAttempts: 3, maxBackoff: 1 },
    );
    for (let i = 0; i < 3; i++) {
      conn.reply(await conn.receive(), `${i + 1}\0`);
      conn.fail(await conn.receive(), 'EAGAIN');
    }
    expect((await rejection(run)).code).toBe('EAGAIN');
    expect(attempts).toBe(3);
  });

  it('rejects a TRANSACTION_START id of 0, over 32 bits or not a number, sending none of its writes', async () => {
    await open();
    const bad = [
      '0\0',
      '4294967296\0',
      '99999999999\0',
      '-1\0',
      '12abc\0',
      '0x10\0',
      ' 7\0',
      '7',
      '\0',
      '',
    ];
    for (const id of bad) {
      const run = xs.transaction(async (tx) => {
        await tx.write('/t', 'must not be written');
      });
      const start = await conn.receive();
      expect(opOf(start)).toBe('TRANSACTION_START');
      conn.reply(start, id);
      const error = await rejection(run);
      expect([id, error.code, error.op]).toEqual([id, 'EPROTO', 'TRANSACTION_START']);
    }
    // Nothing went out meanwhile: the next request the server sees is this read.
    const read = xs.readString('/after');
    const next = await conn.receive();
    expect(opOf(next)).toBe('READ');
    conn.reply(next, 'read');
    expect(await read).toBe('read');
  });

  it('takes the largest 32-bit transaction id', async () => {
    await open();
    const tx = xs.transactionStart();
    conn.reply(await conn.receive(), '4294967295\0');
    const write = (await tx).write('/t', 'v');
    const request = await conn.receive();
    expect([opOf(request), request.txId]).toEqual(['WRITE', 0xffffffff]);
    conn.reply(request);
    await write;
  });

  it('rejects a GET_PERMS reply that is no permission list with EPROTO', async () => {
    await open();
    for (const payload of ['zz\0', '', 'r0', 'b0\0q1\0', '\0']) {
      const perms = xs.getPermissions('/p');
      conn.reply(await conn.receive(), payload);
      const error = await rejection(perms);
      expect([payload, error.code, error.op, error.path]).toEqual([
        payload,
        'EPROTO',
        'GET_PERMS',
        '/p',
      ]);
    }
  });

  it('rejects a reply that does not echo the request’s tx_id with EPROTO', async () => {
    await open();
    const tx = xs.transactionStart();
    conn.reply(await conn.receive(), '5\0');
    const inside = (await tx).read('/a');
    const outside = xs.read('/b');
    const [r1, r2] = await conn.receiveMany(2);
    conn.send({ ...r1!, txId: 0, payload: Buffer.from('x') });
    conn.send({ ...r2!, txId: 5, payload: Buffer.from('y') });
    for (const [reply, op] of [
      [inside, 'READ'],
      [outside, 'READ'],
    ] as const) {
      const error = await rejection(reply);
      expect([error.code, error.op]).toEqual(['EPROTO', op]);
      expect(error.message).toMatch(/tx_id/);
    }
  });

  it('rejects directory names and single strings that break the grammar with EPROTO', async () => {
    await open();
    const cases: [() => Promise<unknown>, string][] = [
      [() => xs.directory('/d'), 'a\0\0b\0'],
      [() => xs.directory('/d'), 'a/b\0'],
      [() => xs.getDomainPath(1), '/local/domain/1\0extra\0'],
      [() => xs.getDomainPath(1), '/local/domain/1'],
      [() => xs.isDomainIntroduced(1), 'TF\0'],
      [() => xs.getFeature(), '4294967296\0'],
    ];
    for (const [call, payload] of cases) {
      const reply = call();
      conn.reply(await conn.receive(), payload);
      expect([payload, (await rejection(reply)).code]).toEqual([payload, 'EPROTO']);
    }
  });
});
