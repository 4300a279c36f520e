import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { XenstoreClient } from '../../src/xenstore/client.ts';
import { MessageType, messageTypeName } from '../../src/xenstore/messages.ts';
import { toText } from '../../src/xenstore/payload.ts';
import { encodeRequest } from '../../src/xenstore/requests.ts';
import { XenstoreServer } from '../../src/xenstore/server/server.ts';
import { socketListener } from '../../src/xenstore/transport/socket-listener.ts';
import { encodeMessage, type Message } from '../../src/xenstore/wire.ts';
import { formatLatency, summarize } from '../support/latency.ts';
import { RawConnection } from '../support/raw-connection.ts';
import { startRealXenstored, xenInstall } from '../support/real-xenstored.ts';

/** A daemon on a unix socket. */
interface Target {
  readonly socketPath: string;
  stop(): Promise<void>;
}

async function inMemoryDaemon(): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'xenwire-hostile-'));
  const server = new XenstoreServer();
  const listener = await socketListener(server, { path: join(dir, 'socket'), busyPoll: false });
  return {
    socketPath: listener.path,
    async stop() {
      await listener.close();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function cDaemon(): Promise<Target> {
  const daemon = await startRealXenstored(xenInstall!);
  return { socketPath: daemon.socketPath, stop: () => daemon.stop() };
}

function header(type: number, reqId: number, len: number): Buffer {
  const bytes = Buffer.alloc(16);
  bytes.writeUInt32LE(type, 0);
  bytes.writeUInt32LE(reqId, 4);
  bytes.writeUInt32LE(len, 12);
  return bytes;
}

const request = (message: Parameters<typeof encodeRequest>[0], reqId: number): Buffer =>
  Buffer.from(encodeMessage(encodeRequest(message, { reqId, txId: 0 })));

function describeMessage(message: Message): string {
  const name = messageTypeName(message.type) ?? `type ${message.type}`;
  return `${name} ${toText(message.payload).replace(/\0$/, '')}`;
}

/**
 * What the daemon did on the hostile connection within `ms`: the messages it sent, and `closed`
 * when it dropped the connection.
 */
async function observe(conn: RawConnection, ms: number): Promise<string[]> {
  const seen: string[] = [];
  const deadline = performance.now() + ms;
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0) return seen;
    const got = await Promise.race([
      conn.next().catch(() => 'closed' as const),
      sleep(left).then(() => 'quiet' as const),
    ]);
    if (got === 'quiet') return seen;
    if (got === 'closed') return [...seen, 'closed'];
    seen.push(describeMessage(got));
  }
}

/** One kind of hostile traffic; resolves to what the daemon made of it. */
interface HostileCase {
  readonly name: string;
  act(conn: RawConnection): Promise<string[]>;
}

const cases: HostileCase[] = [
  {
    name: 'garbage (an HTTP request)',
    act: async (conn) => {
      conn.sendBytes(Buffer.from('GET / HTTP/1.1\r\nHost: xenstored\r\n\r\n'));
      return observe(conn, 300);
    },
  },
  {
    name: 'len 4097',
    act: async (conn) => {
      conn.sendBytes(Buffer.concat([header(MessageType.WRITE, 1, 4097), Buffer.alloc(4097)]));
      return observe(conn, 300);
    },
  },
  {
    name: 'len 0xFFFFFFFF',
    act: async (conn) => {
      conn.sendBytes(header(MessageType.READ, 1, 0xffffffff));
      return observe(conn, 300);
    },
  },
  {
    name: 'a frame one byte at a time',
    act: async (conn) => {
      const bytes = request(
        { op: 'WRITE', path: '/hostile/trickle', value: Buffer.from('slow') },
        7,
      );
      for (const byte of bytes) {
        conn.sendBytes(Buffer.of(byte));
        await sleep(2);
      }
      return observe(conn, 300);
    },
  },
  {
    name: 'half a frame, then silence',
    act: async (conn) => {
      conn.sendBytes(
        request({ op: 'WRITE', path: '/hostile/half', value: Buffer.from('never') }, 8).subarray(
          0,
          24,
        ),
      );
      return observe(conn, 500);
    },
  },
  {
    name: 'unknown types, then a read',
    act: async (conn) => {
      conn.sendBytes(
        Buffer.concat([header(999, 9, 0), header(0xffffffff, 10, 0), header(20, 11, 0)]),
      );
      conn.sendBytes(request({ op: 'READ', path: '/hostile/a' }, 12));
      return observe(conn, 300);
    },
  },
];

/** The tree the hostile traffic must leave as it was (but for the trickled write). */
const TREE = { '/hostile/a': '1', '/hostile/b': '2', '/hostile/c': '3' };

async function snapshot(xs: XenstoreClient): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await xs.directory('/hostile')) {
    out[`/hostile/${name}`] = await xs.readString(`/hostile/${name}`);
  }
  return out;
}

/**
 * Reads a node over and over on its own connection until `done` settles (and at least `min`
 * times); the latencies in ms. Every read must return the node's value.
 */
async function readWhile(
  xs: XenstoreClient,
  done: Promise<unknown>,
  min: number,
): Promise<number[]> {
  let finished = false;
  void done.finally(() => {
    finished = true;
  });
  const samples: number[] = [];
  while (!finished || samples.length < min) {
    const start = performance.now();
    expect(await xs.readString('/hostile/a')).toBe('1');
    samples.push(performance.now() - start);
  }
  return samples;
}

/** What each daemon made of each case, to compare the two. */
const fates = new Map<string, Record<string, string[]>>();

function hostileFramesSuite(label: string, start: () => Promise<Target>): void {
  it(`${label}: only the hostile connection is affected; a reader keeps its latency; the tree is intact`, async () => {
    const target = await start();
    const lines: string[] = [];
    const seen: Record<string, string[]> = {};
    try {
      // A liveness bound, not a figure: a read stuck behind a hostile connection fails here.
      await using reader = await XenstoreClient.connect({
        socketPath: target.socketPath,
        busyPoll: false,
        timeout: 2_000,
      });
      for (const [path, value] of Object.entries(TREE)) await reader.write(path, value);
      const baseline = summarize(await readWhile(reader, Promise.resolve(), 300));
      lines.push(`  quiet                        reader ${formatLatency(baseline)}`);
      for (const hostile of cases) {
        const conn = await RawConnection.open(target.socketPath);
        const fate = hostile.act(conn);
        const during = summarize(await readWhile(reader, fate, 100));
        seen[hostile.name] = await fate;
        conn.close();
        lines.push(
          `  ${hostile.name.padEnd(28)} reader ${formatLatency(during)}; hostile connection: ${seen[hostile.name]!.join(', ') || 'quiet'}`,
        );
      }
      expect(await snapshot(reader)).toEqual({ ...TREE, '/hostile/trickle': 'slow' });
      // And the daemon still takes new connections.
      await using fresh = await XenstoreClient.connect({
        socketPath: target.socketPath,
        busyPoll: false,
      });
      expect(await fresh.readString('/hostile/b')).toBe('2');
    } finally {
      await target.stop();
    }
    console.log(`hostile frames against ${label}:\n${lines.join('\n')}`);
    fates.set(label, seen);

    // What each case must do to the hostile connection itself.
    expect(seen['garbage (an HTTP request)']).toEqual(['closed']);
    expect(seen['len 4097']).toEqual(['closed']);
    expect(seen['len 0xFFFFFFFF']).toEqual(['closed']);
    expect(seen['a frame one byte at a time']).toEqual(['WRITE OK']);
    expect(seen['half a frame, then silence']).toEqual([]);
    expect(seen['unknown types, then a read']!.at(-1)).toBe('READ 1');
    expect(seen['unknown types, then a read']!.slice(0, -1)).toEqual(
      Array(3).fill(expect.stringMatching(/^ERROR /)),
    );
  }, 60_000);
}

describe('hostile frames on one connection', () => {
  hostileFramesSuite('the in-memory xenstored', inMemoryDaemon);
  if (xenInstall) hostileFramesSuite('the C xenstored', cDaemon);
  it.skipIf(!xenInstall)(
    'the in-memory xenstored treats each hostile connection as the C one does',
    () => {
      expect(fates.get('the in-memory xenstored')).toEqual(fates.get('the C xenstored'));
    },
  );
});
