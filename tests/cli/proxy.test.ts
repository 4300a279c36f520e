import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TraceRecord } from '../../src/cli/trace.ts';
import { XenstoreClient } from '../../src/xenstore/client.ts';
import {
  encodeMessage,
  encodeRequest,
  MessageType,
  watchEventMessage,
} from '../../src/xenstore/index.ts';
import { startRealXenstored, type XenInstall, xenInstall } from '../support/real-xenstored.ts';
import { startXenwire, xenstoreC } from './run-cli.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xenwire-proxy-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readTrace(path: string): Promise<TraceRecord[]> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as TraceRecord);
}

/** Collects what a socket receives until `size` bytes have come. */
function receive(socket: Socket, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  return new Promise((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= size) resolve(Buffer.concat(chunks));
    });
  });
}

function startProxy(to: string, ...flags: string[]) {
  const listen = join(dir, 'proxy.sock');
  const trace = join(dir, 'trace.jsonl');
  const proxy = startXenwire(['proxy', '--listen', listen, '--to', to, '--trace', trace, ...flags]);
  return { listen, trace, proxy };
}

describe('xenwire proxy', () => {
  it('forwards every byte unchanged both ways, decodes messages and survives framing errors', async () => {
    const upstreamPath = join(dir, 'upstream.sock');
    // Whatever the client sends: a READ, a WRITE, then a header announcing an oversize payload.
    const read = encodeMessage(encodeRequest({ op: 'READ', path: '/vm' }, { reqId: 7, txId: 0 }));
    const write = encodeMessage(
      encodeRequest({ op: 'WRITE', path: '/x', value: Buffer.from('v') }, { reqId: 8, txId: 3 }),
    );
    const garbage = Buffer.alloc(40, 0xff);
    const fromClient = Buffer.concat([read, write, garbage]);
    // The upstream answers with a reply, an event and bytes that are no protocol at all.
    const fromServer = Buffer.concat([
      encodeMessage({ type: MessageType.READ, reqId: 7, txId: 0, payload: Buffer.from('hello') }),
      encodeMessage(watchEventMessage({ path: '/x', token: 'tok' })),
      Buffer.from('not a message, and a few more bytes'),
    ]);
    const received: Buffer[] = [];
    const upstream: Server = createServer((socket) => {
      void receive(socket, fromClient.length).then((bytes) => {
        received.push(bytes);
        socket.write(fromServer);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(upstreamPath, resolve));
    const { listen, trace, proxy } = startProxy(upstreamPath);
    try {
      await proxy.stdout.waitFor(/proxy listening/);
      for (let round = 0; round < 2; round++) {
        const client = connect(listen);
        const answer = receive(client, fromServer.length);
        client.write(fromClient);
        expect((await answer).equals(fromServer)).toBe(true);
        client.destroy();
      }
      expect(received.map((bytes) => bytes.equals(fromClient))).toEqual([true, true]);
    } finally {
      expect(await proxy.stop()).toBe(0);
      await new Promise((resolve) => upstream.close(resolve));
    }
    const records = await readTrace(trace);
    const conn1 = records.filter((record) => record.conn === 1);
    expect(conn1.map((r) => (r.kind === 'message' ? `${r.dir} ${r.type}` : r.kind))).toEqual(
      expect.arrayContaining([
        'open',
        'client-to-server READ',
        'client-to-server WRITE',
        'server-to-client READ',
        'server-to-client WATCH_EVENT',
        'error',
        'close',
      ]),
    );
    const messages = conn1.filter((r) => r.kind === 'message');
    expect(messages.find((r) => r.type === 'WRITE')).toMatchObject({
      path: '/x',
      value: 'v',
      txId: 3,
    });
    expect(messages.find((r) => r.type === 'WATCH_EVENT')).toMatchObject({
      path: '/x',
      token: 'tok',
    });
    expect(conn1.find((r) => r.kind === 'close')).toMatchObject({
      bytes: {
        fromClient: fromClient.length,
        toServer: fromClient.length,
        fromServer: fromServer.length,
        toClient: fromServer.length,
      },
    });
    expect(records.filter((r) => r.kind === 'close')).toHaveLength(2);
    // The readable log (stderr by default) tells the same story.
    const log = proxy.stderr.text;
    expect(log).toMatch(/conn 1 → READ \/vm req 7 tx 0\n/);
    expect(log).toMatch(/conn 1 → WRITE \/x "v" req 8 tx 3\n/);
    expect(log).toMatch(/conn 1 ← WATCH_EVENT \/x token "tok" req 0 tx 0\n/);
    expect(log).toMatch(/conn 1 error: framing: header announces \d+ payload bytes/);
    expect(log).toMatch(
      `conn 2 closed (client sent ${fromClient.length} bytes, server got ${fromClient.length}; ` +
        `server sent ${fromServer.length}, client got ${fromServer.length})`,
    );
  });

  it('keeps pipelined traffic of concurrent clients intact', async () => {
    const upstream = join(dir, 'mock.sock');
    const served = startXenwire(['serve', '--socket', upstream]);
    await served.stdout.waitFor(/listening on/);
    const { listen, trace, proxy } = startProxy(upstream, '--quiet');
    try {
      await proxy.stdout.waitFor(/proxy listening/);
      const clients = await Promise.all(
        [0, 1, 2, 3].map(() => XenstoreClient.connect({ socketPath: listen })),
      );
      await Promise.all(
        clients.map(async (client, c) => {
          const keys = Array.from({ length: 300 }, (_, i) => `/load/${c}/${i}`);
          await Promise.all(keys.map((key) => client.write(key, `${key}=${'x'.repeat(200)}`)));
          const values = await Promise.all(keys.map((key) => client.readString(key)));
          expect(values).toEqual(keys.map((key) => `${key}=${'x'.repeat(200)}`));
        }),
      );
      await Promise.all(clients.map((client) => client.close()));
    } finally {
      expect(await proxy.stop()).toBe(0);
      await served.stop();
    }
    const records = await readTrace(trace);
    const requests = records.filter((r) => r.kind === 'message' && r.dir === 'client-to-server');
    expect(requests).toHaveLength(4 * 600);
    for (const close of records.filter((r) => r.kind === 'close')) {
      expect(close.bytes.toServer).toBe(close.bytes.fromClient);
      expect(close.bytes.toClient).toBe(close.bytes.fromServer);
    }
  });

  describe.skipIf(xenInstall === undefined)('in front of the real C xenstored', () => {
    const install = xenInstall as XenInstall;
    const session = [
      ['write', '/p', '1', '/q/r', 'two'],
      ['ls', '-p'],
      ['read', '-p', '/p', '/q/r'],
      ['list', '-p', '/q'],
      ['chmod', '-r', '/q', 'b0', 'r1'],
      ['watch', '-n', '1', '/q'],
      ['rm', '-t', '/q/r'],
      ['read', '/q'],
      ['ls', '-fp'],
    ];

    it('carries all of test-xenstore unchanged', async () => {
      const daemon = await startRealXenstored(install);
      const { listen, trace, proxy } = startProxy(daemon.socketPath);
      let result: { code: number; stdout: string; stderr: string };
      try {
        await proxy.stdout.waitFor(/proxy listening/);
        result = await new Promise((resolve) => {
          const env = { ...daemon.env, XENSTORED_PATH: listen };
          execFile(
            join(install.xenBinDir, 'test-xenstore'),
            [],
            { env, timeout: 60_000 },
            (error, stdout, stderr) =>
              resolve({ code: error ? Number(error.code ?? -1) : 0, stdout, stderr }),
          );
        });
      } finally {
        expect(await proxy.stop()).toBe(0);
        await daemon.stop();
      }
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^ta err\s*: \d+ ns$/m);
      const records = await readTrace(trace);
      expect(records.some((r) => r.kind === 'error')).toBe(false);
      const closes = records.filter((r) => r.kind === 'close');
      expect(closes.length).toBeGreaterThan(0);
      for (const close of closes) {
        expect(close.bytes.toServer).toBe(close.bytes.fromClient);
        expect(close.bytes.toClient).toBe(close.bytes.fromServer);
      }
    });

    it('changes nothing the C tools see, and records every byte', async () => {
      const direct = await startRealXenstored(install);
      const proxied = await startRealXenstored(install);
      const log = join(dir, 'proxy.log');
      const { listen, trace, proxy } = startProxy(proxied.socketPath, '--log', log);
      try {
        await proxy.stdout.waitFor(/proxy listening/);
        for (const args of session) {
          expect(await xenstoreC(install, args, listen), args.join(' ')).toEqual(
            await xenstoreC(install, args, direct.socketPath),
          );
        }
      } finally {
        expect(await proxy.stop()).toBe(0);
        await direct.stop();
        await proxied.stop();
      }
      const records = await readTrace(trace);
      const closes = records.filter((r) => r.kind === 'close');
      expect(closes).toHaveLength(session.length);
      for (const close of closes) {
        expect(close.bytes.toServer).toBe(close.bytes.fromClient);
        expect(close.bytes.toClient).toBe(close.bytes.fromServer);
      }
      const types = new Set(records.flatMap((r) => (r.kind === 'message' ? [r.type] : [])));
      for (const type of [
        'TRANSACTION_START',
        'TRANSACTION_END',
        'WRITE',
        'SET_PERMS',
        'WATCH',
        'WATCH_EVENT',
        'GET_PERMS',
        'RM',
      ]) {
        expect(types).toContain(type);
      }
      expect(records.some((r) => r.kind === 'error')).toBe(false);
      // --log takes the readable lines away from stderr.
      expect(proxy.stderr.text).toBe('');
      const lines = (await readFile(log, 'utf8')).trimEnd().split('\n');
      expect(lines).toHaveLength(records.length);
      expect(lines).toContainEqual(
        expect.stringMatching(/conn 1 → WRITE \/p "1" req 0 tx [1-9]\d*$/),
      );
    });
  });
});
