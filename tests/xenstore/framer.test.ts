import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PAYLOAD_MAX } from '../../src/xenstore/constants.ts';
import { MessageFramer } from '../../src/xenstore/framer.ts';
import { encodeMessage, type Message, writeHeader } from '../../src/xenstore/wire.ts';
import { rechunk } from './arbitraries.ts';

const message: fc.Arbitrary<Message> = fc.record({
  type: fc.integer({ min: 0, max: 26 }),
  reqId: fc.nat().map((n) => n >>> 0),
  txId: fc.nat().map((n) => n >>> 0),
  payload: fc.uint8Array({ maxLength: PAYLOAD_MAX }),
});

const plain = (m: Message) => ({ ...m, payload: Buffer.from(m.payload).toString('hex') });

describe('MessageFramer', () => {
  it('yields the same messages under any chunking', () => {
    fc.assert(
      fc.property(
        fc.array(message, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (messages, cuts) => {
          const stream = Buffer.concat(messages.map(encodeMessage));
          const framer = new MessageFramer();
          const out = rechunk(stream, cuts).flatMap((chunk) => framer.push(chunk));
          expect(out.map(plain)).toEqual(messages.map(plain));
          expect(framer.buffered).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reports what it wants, so that a reader can take one message at a time', () => {
    fc.assert(
      fc.property(
        fc.array(message, { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
        (messages, sizes) => {
          const stream = Buffer.concat(messages.map(encodeMessage));
          const framer = new MessageFramer();
          const out: Message[] = [];
          for (let at = 0, i = 0; at < stream.length; i++) {
            const wanted = framer.wanted;
            expect(wanted).toBe(
              framer.header ? framer.header.len + 16 - framer.buffered : 16 - framer.buffered,
            );
            const take = Math.min(wanted, sizes[i % sizes.length]!, stream.length - at);
            const got = framer.push(stream.subarray(at, at + take));
            at += take;
            // Never more than the one message being received.
            expect(got.length).toBeLessThanOrEqual(1);
            if (got.length === 1) expect(framer.buffered).toBe(0);
            out.push(...got);
          }
          expect(out.map(plain)).toEqual(messages.map(plain));
          expect(framer.header).toBeUndefined();
        },
      ),
      { numRuns: 200 },
    );
  });

  it('handles one byte at a time', () => {
    const messages: Message[] = [
      { type: 2, reqId: 1, txId: 0, payload: Buffer.from('/a\0') },
      { type: 15, reqId: 0, txId: 0, payload: Buffer.from('/a\0tok\0') },
      { type: 21, reqId: 9, txId: 3, payload: Buffer.alloc(0) },
    ];
    const framer = new MessageFramer();
    const out = [...Buffer.concat(messages.map(encodeMessage))].flatMap((b) =>
      framer.push(Uint8Array.of(b)),
    );
    expect(out.map(plain)).toEqual(messages.map(plain));
  });

  it('keeps a partial message until the rest arrives', () => {
    const bytes = encodeMessage({ type: 2, reqId: 1, txId: 0, payload: Buffer.from('/abc\0') });
    const framer = new MessageFramer();
    expect(framer.push(bytes.subarray(0, 18))).toEqual([]);
    expect(framer.buffered).toBe(18);
    expect(framer.push(bytes.subarray(18))).toHaveLength(1);
  });

  it('rejects a header announcing more than 4096 bytes without allocating it', () => {
    fc.assert(
      fc.property(fc.integer({ min: PAYLOAD_MAX + 1, max: 0xffffffff }), (len) => {
        const header = Buffer.alloc(16);
        writeHeader(header, { type: 2, reqId: 0, txId: 0, len });
        const framer = new MessageFramer();
        expect(() => framer.push(header)).toThrow(expect.objectContaining({ code: 'EPROTO' }));
        // Once out of step, the stream stays refused.
        expect(() => framer.push(Buffer.alloc(1))).toThrow(
          expect.objectContaining({ code: 'EPROTO' }),
        );
      }),
    );
  });

  it('rejects a message over 4096 bytes even when the chunk holds all of it', () => {
    const bytes = Buffer.alloc(16 + PAYLOAD_MAX + 1);
    writeHeader(bytes, { type: 11, reqId: 0, txId: 0, len: PAYLOAD_MAX + 1 });
    const framer = new MessageFramer();
    expect(() => framer.push(bytes)).toThrow(expect.objectContaining({ code: 'EPROTO' }));
    expect(() => framer.push(Buffer.alloc(16))).toThrow(
      expect.objectContaining({ code: 'EPROTO' }),
    );
  });

  it('accepts exactly 4096 payload bytes', () => {
    const framer = new MessageFramer();
    const bytes = encodeMessage({
      type: 11,
      reqId: 0,
      txId: 0,
      payload: Buffer.alloc(PAYLOAD_MAX),
    });
    expect(framer.push(bytes)).toHaveLength(1);
  });
});
