import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { XenstoreError } from '../../src/xenstore/errors.ts';
import { MessageType } from '../../src/xenstore/messages.ts';
import {
  decodeMigrationStream,
  encodeMigrationStream,
  type MigrationRecord,
  MigrationStreamError,
} from '../../src/xenstore/server/migration-stream.ts';
import { XenstoreServer } from '../../src/xenstore/server.ts';
import { Recorder, renderReply, scriptPayload } from './script.ts';

// Written by C xenstored 4.17.7 under the harness (CONTROL live-update, state_dump copied before
// the new binary read it): dom0's ring, a socket, a guest ring with a target, watches (one
// relative), a node with an entry for a domain that did not exist (IGNORE flag).
const C_STREAM = readFileSync(
  new URL('../fixtures/xenstored-4.17-live-update.bin', import.meta.url),
);

const bytesArb = (max: number) => fc.uint8Array({ maxLength: max });
const nameArb = fc.stringMatching(/^[a-z0-9_-]{1,6}$/);
const pathArb = fc.array(nameArb, { minLength: 1, maxLength: 4 }).map((p) => `/${p.join('/')}`);
const permArb = fc.record({
  access: fc.constantFrom('r' as const, 'w' as const, 'b' as const, 'n' as const),
  domid: fc.integer({ min: 0, max: 0xffff }),
  ignored: fc.boolean(),
});
const pendingArb = fc
  .record({ input: bytesArb(40), output: bytesArb(60) })
  .chain(({ input, output }) =>
    fc.integer({ min: 0, max: output.length }).map((partialResponse) => ({
      input,
      output,
      partialResponse,
    })),
  );
const recordArb: fc.Arbitrary<MigrationRecord> = fc.oneof(
  fc.record({
    type: fc.constant('global' as const),
    socketFd: fc.integer({ min: -1, max: 1000 }),
    evtchnFd: fc.integer({ min: -1, max: 1000 }),
  }),
  fc
    .tuple(
      fc.integer({ min: 1, max: 0xffffffff }),
      pendingArb,
      fc.oneof(
        fc.record({
          kind: fc.constant('ring' as const),
          domid: fc.integer({ min: 0, max: 0xffff }),
          targetDomid: fc.integer({ min: 0, max: 0xffff }),
          port: fc.integer({ min: 0, max: 0xffffffff }),
        }),
        fc.record({ kind: fc.constant('socket' as const), fd: fc.integer({ min: -1, max: 1e6 }) }),
      ),
    )
    .map(([connId, pending, spec]) => ({
      type: 'connection' as const,
      connId,
      ...pending,
      ...spec,
    })),
  fc.record({
    type: fc.constant('watch' as const),
    connId: fc.integer({ min: 1, max: 0xffffffff }),
    path: fc.oneof(pathArb, nameArb, fc.constant('@releaseDomain')),
    token: fc.string({ maxLength: 8 }).filter((t) => !t.includes('\0')),
  }),
  fc.record({
    type: fc.constant('transaction' as const),
    connId: fc.integer({ min: 1, max: 0xffffffff }),
    txId: fc.integer({ min: 0, max: 0xffffffff }),
  }),
  fc
    .record({
      connId: fc.integer({ min: 0, max: 5 }),
      txId: fc.integer({ min: 0, max: 5 }),
      access: fc.integer({ min: 0, max: 3 }),
      path: pathArb,
      value: bytesArb(30),
      perms: fc.array(permArb, { minLength: 1, maxLength: 5 }),
    })
    .map((r) => ({ type: 'node' as const, ...r })),
  fc.record({
    type: fc.constant('unknown' as const),
    typeCode: fc.integer({ min: 6, max: 0xffffffff }),
    body: fc.integer({ min: 0, max: 4 }).map((n) => new Uint8Array(8 * n).fill(7)),
  }),
);

function expectStreamError(run: () => unknown): void {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(XenstoreError);
    expect(['EINVAL', 'EPROTO', 'ENOENT', 'EEXIST']).toContain((err as XenstoreError).code);
  }
}

describe('migration stream codec', () => {
  it("reads C xenstored's live-update stream and writes it back byte for byte", () => {
    const stream = decodeMigrationStream(C_STREAM);
    expect(stream.bigEndian).toBe(false);
    expect(stream.records[0]).toMatchObject({ type: 'global' });
    const kinds = stream.records.filter((r) => r.type === 'connection').map((r) => r.kind);
    expect(kinds).toContain('ring');
    expect(kinds).toContain('socket');
    const ignored = stream.records.flatMap((r) => (r.type === 'node' ? r.perms : []));
    expect(ignored.some((p) => p.ignored)).toBe(true);
    expect(Buffer.from(encodeMigrationStream(stream)).equals(C_STREAM)).toBe(true);
  });

  it('encodes and decodes any records in either byte order (property)', () => {
    fc.assert(
      fc.property(fc.array(recordArb, { maxLength: 12 }), fc.boolean(), (records, bigEndian) => {
        const bytes = encodeMigrationStream({ bigEndian, records });
        expect(bytes.length % 8).toBe(0);
        const decoded = decodeMigrationStream(bytes);
        expect(decoded.bigEndian).toBe(bigEndian);
        expect(decoded.records.map(normalise)).toEqual(records.map(normalise));
      }),
    );
  });

  it('names the problem and its offset for malformed streams', () => {
    const cases: [Uint8Array, string, number][] = [
      [C_STREAM.subarray(0, 10), 'EPROTO', 0],
      [Buffer.concat([Buffer.from('xenstorf'), C_STREAM.subarray(8)]), 'EPROTO', 0],
      [patch(C_STREAM, 8, [0, 0, 0, 2]), 'EPROTO', 8],
      [patch(C_STREAM, 12, [0, 0, 0, 2]), 'EINVAL', 12],
      [C_STREAM.subarray(0, C_STREAM.length - 8), 'EINVAL', C_STREAM.length - 8],
      [patch(C_STREAM, 20, [0xff, 0xff, 0, 0]), 'EINVAL', 20],
      [patch(C_STREAM, 20, [9, 0, 0, 0]), 'EINVAL', 20],
    ];
    for (const [bytes, code, offset] of cases) {
      let error: unknown;
      try {
        decodeMigrationStream(bytes);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(MigrationStreamError);
      expect((error as MigrationStreamError).code).toBe(code);
      expect((error as MigrationStreamError).offset).toBe(offset);
    }
  });

  it('never crashes on fuzzed bytes: a stream, or a typed error (property)', () => {
    fc.assert(
      fc.property(bytesArb(300), (bytes) => {
        expectStreamError(() => XenstoreServer.fromMigrationStream(bytes));
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(C_STREAM.length - 1), fc.nat(255)), {
          minLength: 1,
          maxLength: 6,
        }),
        (edits) => {
          const bytes = Buffer.from(C_STREAM);
          for (const [at, value] of edits) bytes[at] = value;
          expectStreamError(() => XenstoreServer.fromMigrationStream(bytes));
        },
      ),
      { numRuns: 500 },
    );
  });
});

function patch(bytes: Uint8Array, at: number, values: number[]): Buffer {
  const copy = Buffer.from(bytes);
  copy.set(values, at);
  return copy;
}

function normalise(record: MigrationRecord): unknown {
  return JSON.parse(
    JSON.stringify(record, (_k, v) => (v instanceof Uint8Array ? [...v] : v)),
  ) as unknown;
}

// Random work on a few connections (dom0 and guests), leaving watches and open transactions.
const stepArb = fc.oneof(
  fc.record({
    op: fc.constant('write' as const),
    path: fc.oneof(pathArb, nameArb),
    value: fc.constantFrom('', 'x', 'hello\0bytes'),
  }),
  fc.record({
    op: fc.constantFrom('mkdir' as const, 'rm' as const, 'read' as const),
    path: pathArb,
  }),
  fc.record({
    op: fc.constant('setperms' as const),
    path: pathArb,
    perms: fc.constantFrom(['n0'], ['b1', 'r2'], ['n2', 'r1', 'w7']),
  }),
  fc.record({
    op: fc.constant('watch' as const),
    path: fc.oneof(pathArb, nameArb, fc.constant('@releaseDomain')),
    token: fc.constantFrom('t1', 't2'),
  }),
  fc.record({ op: fc.constant('start' as const) }),
  fc.record({ op: fc.constant('commit' as const) }),
);

interface Played {
  server: XenstoreServer;
  conns: Recorder[];
  open: number[][];
}

function play(
  steps: [number, boolean, fc.Arbitrary<unknown> extends never ? never : Step][],
): Played {
  const server = new XenstoreServer();
  const conns = [0, 1, 2].map((domid) => new Recorder(server, domid));
  const dom0 = conns[0]!;
  dom0.request(MessageType.INTRODUCE, scriptPayload('introduce', ['1', '11', '3']));
  dom0.request(MessageType.INTRODUCE, scriptPayload('introduce', ['7', '17', '9']));
  dom0.request(MessageType.SET_TARGET, scriptPayload('settarget', ['2', '1']));
  const open: number[][] = conns.map(() => []);
  for (const [who, inTx, step] of steps) {
    const conn = conns[who]!;
    const tx = inTx ? (open[who]!.at(-1) ?? 0) : 0;
    switch (step.op) {
      case 'start': {
        const reply = conn.request(MessageType.TRANSACTION_START, scriptPayload('start', []));
        if (reply.type !== MessageType.ERROR) open[who]!.push(Number(renderReply(reply)));
        break;
      }
      case 'commit':
        if (open[who]!.length === 0) break;
        conn.request(MessageType.TRANSACTION_END, scriptPayload('commit', []), open[who]!.shift());
        break;
      case 'write':
        conn.request(MessageType.WRITE, scriptPayload('write', [step.path, step.value]), tx);
        break;
      case 'setperms':
        conn.request(
          MessageType.SET_PERMS,
          scriptPayload('setperms', [step.path, ...step.perms]),
          tx,
        );
        break;
      case 'watch':
        conn.request(MessageType.WATCH, scriptPayload('watch', [step.path, step.token]));
        break;
      default:
        conn.request(
          MessageType[step.op.toUpperCase() as 'RM'],
          scriptPayload(step.op, [step.path]),
          tx,
        );
    }
  }
  return { server, conns, open };
}

type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;
const playArb = fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.boolean(), stepArb), {
  maxLength: 40,
});

// Commits every open transaction, connection by connection, then writes under every watch.
function finish(
  server: XenstoreServer,
  send: ((type: number, payload: Buffer, tx?: number) => void)[],
  open: number[][],
): string {
  open.forEach((ids, who) => {
    for (const id of ids) send[who]!(MessageType.TRANSACTION_END, scriptPayload('commit', []), id);
  });
  send[0]!(MessageType.WRITE, scriptPayload('write', ['/a/b', 'late']));
  send[0]!(MessageType.RM, scriptPayload('rm', ['/a']));
  return visible(server);
}

// The tree and special permissions (the 4.17 stream carries no ring gfn, and a domain a
// connection made known comes back introduced).
function visible(server: XenstoreServer): string {
  const { nodes, specialPermissions } = server.dump();
  return JSON.stringify({ nodes, specialPermissions });
}

describe('migration stream of the in-memory server', () => {
  it('dump, load, dump is the identity on random trees, watches and transactions (property)', () => {
    fc.assert(
      fc.property(playArb, (steps) => {
        const { server } = play(steps);
        const stream = server.dumpMigrationStream();
        const copy = XenstoreServer.fromMigrationStream(stream);
        expect(Buffer.from(copy.dumpMigrationStream()).equals(Buffer.from(stream))).toBe(true);
        expect(visible(copy)).toBe(visible(server));
      }),
      { numRuns: 150 },
    );
  });

  it('a loaded server carries on as the original: commits, then watch events (property)', () => {
    fc.assert(
      fc.property(playArb, (steps) => {
        const { server, conns, open } = play(steps);
        const copy = XenstoreServer.fromMigrationStream(server.dumpMigrationStream());
        const copyEvents: string[][] = conns.map(() => []);
        const resumed = conns.map((_, i) =>
          copy.resumeConnection(i + 1, {
            onMessage: (m) => {
              if (m.type === MessageType.WATCH_EVENT)
                copyEvents[i]!.push(Buffer.from(m.payload).toString('latin1'));
            },
          }),
        );
        const before = conns.map((c) => c.received.length);
        const replies: string[] = [];
        const original = finish(
          server,
          conns.map((c) => (type, payload, tx) => {
            replies.push(renderReply(c.request(type, payload, tx)));
          }),
          open,
        );
        // A transaction that had already conflicted cannot say so in the stream (no generation
        // counts in the format): after loading it commits.
        fc.pre(!replies.includes('EAGAIN'));
        const restored = finish(
          copy,
          resumed.map(
            (c) => (type, payload, tx) => c.send({ type, reqId: 1, txId: tx ?? 0, payload }),
          ),
          open,
        );
        expect(restored).toBe(original);
        const originalEvents = conns.map((c, i) =>
          c.received
            .slice(before[i])
            .filter((m) => m.type === MessageType.WATCH_EVENT)
            .map((m) => Buffer.from(m.payload).toString('latin1')),
        );
        expect(copyEvents).toEqual(originalEvents);
      }),
      { numRuns: 100 },
    );
  });

  it('a guest connecting again gets its ring back: watches and transactions carry on', () => {
    const server = new XenstoreServer();
    const dom0 = new Recorder(server, 0);
    const guest = new Recorder(server, 3);
    dom0.request(MessageType.MKDIR, scriptPayload('mkdir', ['/local/domain/3']));
    dom0.request(MessageType.SET_PERMS, scriptPayload('setperms', ['/local/domain/3', 'n3']));
    guest.request(MessageType.WATCH, scriptPayload('watch', ['data', 'tok']));
    const tx = Number(
      renderReply(guest.request(MessageType.TRANSACTION_START, scriptPayload('start', []))),
    );
    guest.request(MessageType.WRITE, scriptPayload('write', ['data/x', '1']), tx);
    const copy = XenstoreServer.fromMigrationStream(server.dumpMigrationStream());
    expect(copy.restoredConnections()).toEqual([
      { connId: 1, kind: 'socket', domid: 0, fd: -1 },
      { connId: 2, kind: 'ring', domid: 3 },
    ]);
    const again = new Recorder(copy, 3);
    again.events();
    guest.events();
    const commit = scriptPayload('commit', []);
    expect(renderReply(again.request(MessageType.TRANSACTION_END, commit, tx))).toBe('OK');
    expect(renderReply(guest.request(MessageType.TRANSACTION_END, commit, tx))).toBe('OK');
    expect(again.events()).toEqual(guest.events());
    expect(copy.restoredConnections()).toHaveLength(1);
  });
});
