import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSimulatedHost,
  type SimulatedGuest,
  type SimulatedHost,
} from '../../src/host/index.ts';
import { XenstoreErrorIndicator, XenstoreRing } from '../../src/ring/xenstore.ts';
import { PAYLOAD_MAX } from '../../src/xenstore/constants.ts';
import { MessageFramer } from '../../src/xenstore/framer.ts';
import { MessageType } from '../../src/xenstore/messages.ts';
import { type Message, writeHeader } from '../../src/xenstore/wire.ts';

/** What a server must make of `bytes`: the request ids it answers, and whether it flags PROTO. */
function expectedOutcome(bytes: Uint8Array): { answered: number[]; proto: boolean } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const answered: number[] = [];
  for (let at = 0; at + 16 <= bytes.length; ) {
    const len = view.getUint32(at + 12, true);
    if (len > PAYLOAD_MAX) return { answered, proto: true };
    if (at + 16 + len > bytes.length) break;
    answered.push(view.getUint32(at + 4, true));
    at += 16 + len;
  }
  return { answered, proto: false };
}

/** A message-like item: any type, ids and payload, and a length that may lie. */
const item = fc
  .record({
    type: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 0xffff_ffff })),
    reqId: fc.integer({ min: 0, max: 0xffff_ffff }),
    txId: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff_ffff })),
    payload: fc.uint8Array({ maxLength: 40 }),
    len: fc.oneof(
      { weight: 8, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.integer({ min: PAYLOAD_MAX + 1, max: 0xffff_ffff }) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 60 }) },
    ),
  })
  .map(({ type, reqId, txId, payload, len }) => {
    const bytes = new Uint8Array(16 + payload.length);
    writeHeader(bytes, { type, reqId, txId, len: len ?? payload.length });
    bytes.set(payload, 16);
    return bytes;
  });

/**
 * A hostile guest writes arbitrary bytes into its request ring. The ring server must answer
 * exactly the whole messages they frame, in order, flag an oversize header in the page and stop
 * there, and keep serving the other guest and dom0 whatever happens.
 */
describe('a hostile guest', () => {
  let host: SimulatedHost;
  let hostile: SimulatedGuest;
  beforeAll(async () => {
    host = await createSimulatedHost({ guests: 2 });
    hostile = host.guest(1);
    // From here on, guest 1's page is driven by hand.
    await hostile.client.close();
  });
  afterAll(async () => {
    await host?.close();
  });

  it('gets exactly its whole messages answered, and PROTO for an oversize one', async () => {
    const ring = new XenstoreRing('guest', hostile.page.buffer, {
      byteOffset: hostile.page.byteOffset,
      notify: () => hostile.eventChannel.notify(hostile.port),
    });
    const events = hostile.eventChannel.pending();
    const garbage = fc.array(item, { maxLength: 12 }).chain((items) =>
      fc.integer({ min: 0, max: 15 }).map((cut) => {
        const whole = Buffer.concat(items);
        return whole.subarray(0, Math.max(0, whole.length - cut));
      }),
    );
    await fc.assert(
      fc.asyncProperty(garbage, async (bytes) => {
        // Start from a clean page: the reconnection handshake, woken by the event channel.
        ring.requestReconnect();
        while (ring.reconnecting) {
          const { value } = await events.next();
          hostile.eventChannel.unmask(value as number);
        }
        expect(ring.write(bytes)).toBe(bytes.length);
        // Once another guest's round trip is done, the server has taken the hostile kick too.
        expect(await host.guest(2).client.getDomainPath(2)).toBe('/local/domain/2');
        expect(await host.dom0Client.getDomainPath(0)).toBe('/local/domain/0');

        const expected = expectedOutcome(bytes);
        // Its requests are served one per turn of the server's loop: let the turns run.
        const framer = new MessageFramer();
        const replies: Message[] = [];
        for (let turn = 0; turn < 4 * expected.answered.length + 4; turn++) {
          const response = new Uint8Array(ring.readable());
          ring.read(response);
          replies.push(...framer.push(response).filter((m) => m.type !== MessageType.WATCH_EVENT));
          await new Promise((resolve) => setImmediate(resolve));
        }
        expect(replies.map((m) => m.reqId)).toEqual(expected.answered);
        expect(ring.error).toBe(
          expected.proto ? XenstoreErrorIndicator.PROTO : XenstoreErrorIndicator.NONE,
        );
      }),
      { numRuns: 150 },
    );
    await events.return?.();
  });
});
