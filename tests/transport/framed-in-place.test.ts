import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageType } from '../../src/xenstore/messages.ts';
import {
  type ByteStream,
  type ByteStreamHandlers,
  framedTransport,
} from '../../src/xenstore/transport/byte-stream.ts';
import type { Transport } from '../../src/xenstore/transport/transport.ts';
import { encodeMessage, type Message } from '../../src/xenstore/wire.ts';

/**
 * A stream whose in-place waits hand on as many of the planned chunks as `inPlace` says, while
 * the answer is awaited, at once (a socket does so when the request leaves, the same tick).
 */
class PlannedStream implements ByteStream {
  handlers!: ByteStreamHandlers;
  readonly sent: { how: 'write' | 'awaited'; bytes: Uint8Array }[] = [];
  chunks: Uint8Array[] = [];
  delivered = 0;
  inPlace = 0;

  write(bytes: Uint8Array): void {
    this.sent.push({ how: 'write', bytes });
  }

  writeAwaited(bytes: Uint8Array, alone: () => boolean, awaited: () => boolean): void {
    this.sent.push({ how: 'awaited', bytes });
    if (!alone()) return;
    while (this.delivered < this.inPlace && awaited()) {
      this.handlers.onData(this.chunks[this.delivered++]!);
    }
  }

  /** What the event loop's reads would hand on later. */
  rest(): void {
    while (this.delivered < this.chunks.length)
      this.handlers.onData(this.chunks[this.delivered++]!);
  }

  close(): void {}
}

function open(onMessage: (message: Message, transport: Transport) => void) {
  const stream = new PlannedStream();
  const transport: Transport = framedTransport(
    { onMessage: (message) => onMessage(message, transport), onClose: () => {} },
    (handlers) => {
      stream.handlers = handlers;
      return stream;
    },
  );
  return { stream, transport };
}

const event = (n: number): Message => ({
  type: MessageType.WATCH_EVENT,
  reqId: 0,
  txId: 0,
  payload: Buffer.from(`/e/${n}\0tok\0`),
});

/** What the peer sends for one request: events, the reply, events again. */
const exchange = fc.record({
  before: fc.nat({ max: 2 }),
  after: fc.nat({ max: 2 }),
  reply: fc.uint8Array({ maxLength: 40 }),
  cuts: fc.array(fc.nat({ max: 200 }), { maxLength: 6 }),
  inPlace: fc.nat({ max: 8 }),
});

describe('framedTransport.sendAwaited', () => {
  it('hands on every message once and in order, however the replies are cut and whichever part comes in place', () => {
    fc.assert(
      fc.property(fc.array(exchange, { minLength: 1, maxLength: 6 }), (exchanges) => {
        const received: Message[] = [];
        const { stream, transport } = open((message) => received.push(message));
        const expected: Message[] = [];
        let events = 0;
        for (const [i, plan] of exchanges.entries()) {
          const reqId = i + 1;
          const reply: Message = { type: MessageType.READ, reqId, txId: 0, payload: plan.reply };
          const out = [
            ...Array.from({ length: plan.before }, () => event(++events)),
            reply,
            ...Array.from({ length: plan.after }, () => event(++events)),
          ];
          expected.push(...out);
          const frames = out.map((message) => encodeMessage(message));
          const bytes = Buffer.concat(frames);
          const replyEnd = frames
            .slice(0, plan.before + 1)
            .reduce((sum, frame) => sum + frame.length, 0);
          const ends = [...new Set(plan.cuts.filter((at) => at > 0 && at < bytes.length))]
            .sort((a, b) => a - b)
            .concat(bytes.length);
          stream.chunks = ends.map((end, k) => bytes.subarray(k === 0 ? 0 : ends[k - 1], end));
          stream.delivered = 0;
          stream.inPlace = plan.inPlace;
          const before = received.length;
          transport.sendAwaited!(
            { type: MessageType.READ, reqId, txId: 0, payload: Buffer.from('/\0') },
            () => true,
          );
          // The wait stops as soon as the reply is in: what follows it is left to later reads.
          const replyInPlace = ends.slice(0, plan.inPlace).some((end) => end >= replyEnd);
          const inPlaceBytes = ends[stream.delivered - 1] ?? 0;
          expect(inPlaceBytes >= replyEnd).toBe(replyInPlace);
          if (replyInPlace) expect(ends[stream.delivered - 2] ?? 0).toBeLessThan(replyEnd);
          expect(received.slice(before).some((m) => m.reqId === reqId)).toBe(replyInPlace);
          stream.rest();
        }
        expect(received.map(describeMessage)).toEqual(expected.map(describeMessage));
        expect(stream.sent.every((sent) => sent.how === 'awaited')).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

function describeMessage(message: Message): string {
  return `${message.type}/${message.reqId}/${Buffer.from(message.payload).toString('hex')}`;
}
