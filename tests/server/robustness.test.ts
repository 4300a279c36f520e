import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageType } from '../../src/xenstore/messages.ts';
import { XenstoreServer } from '../../src/xenstore/server.ts';
import type { Message } from '../../src/xenstore/wire.ts';

// Payload pieces likely to reach deep into the server: paths, permission entries, numbers, tokens.
const piece = fc.oneof(
  fc.constantFrom('/', '/a', '/a/b', 'rel', '@introduceDomain', '@x', '', 'T', 'F', 'n0', 'r5'),
  fc.constantFrom('b0x10', 'w-1', '0', '5', '-1', '4294967296', '32752', 'help', 'quota', 'nodes'),
  fc.stringMatching(/^[ -~]{0,12}$/),
);
const payload = fc.oneof(
  fc
    .array(piece, { maxLength: 5 })
    .map((parts) => Buffer.from(parts.map((p) => `${p}\0`).join(''))),
  fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)),
);
const request = fc.record({
  type: fc.oneof(fc.integer({ min: 0, max: 28 }), fc.constant(0xffff)),
  txId: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 }), fc.constant(0xffffffff)),
  payload,
  domid: fc.constantFrom(0, 0, 5, 6),
});

describe('robustness', () => {
  it('answers every request exactly once and never throws, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.array(request, { maxLength: 60 }), (requests) => {
        const server = new XenstoreServer();
        const replies = new Map<number, Message[]>();
        const conns = new Map<number, ReturnType<XenstoreServer['connect']>>();
        for (const domid of [0, 5, 6]) {
          replies.set(domid, []);
          conns.set(
            domid,
            server.connect({ domid, onMessage: (m) => replies.get(domid)!.push(m) }),
          );
        }
        for (const [i, r] of requests.entries()) {
          const got = replies.get(r.domid)!;
          const before = got.length;
          conns.get(r.domid)!.send({ type: r.type, reqId: i, txId: r.txId, payload: r.payload });
          const answers = got
            .slice(before)
            .filter((m) => m.type !== MessageType.WATCH_EVENT && m.reqId === i);
          if (server.connectionCount === 3) expect(answers).toHaveLength(1);
          if (answers[0]?.type === MessageType.ERROR) {
            const name = Buffer.from(answers[0].payload).toString();
            expect(name).toMatch(/^E[A-Z2]+\0$/);
            // EIO would mean an exception inside the server.
            expect(name).not.toBe('EIO\0');
          }
          if (conns.size !== server.connectionCount) break;
        }
      }),
      { numRuns: 1000 },
    );
  });
});
