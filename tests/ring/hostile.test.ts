import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ConsoleRing,
  defineRing,
  RingError,
  Vchan,
  VchanOffset,
  XenstoreFeature,
  XenstoreRing,
} from '../../src/ring/index.ts';

/**
 * A peer may write anything into the shared page at any moment. Whatever it writes, every
 * operation must either work within the ring's bounds or throw a RingError — never loop, never
 * throw anything else, never report more bytes than the ring or the caller's buffer holds.
 */

const runs = Number(process.env.XENWIRE_RING_RUNS ?? 200);
const word = fc.oneof(
  fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  fc.integer({ min: 0, max: 2048 }),
  fc.constantFrom(1024, 1025, 2 ** 32 - 1, 2 ** 31),
);

function survives(op: () => number | undefined, limit: number): void {
  try {
    const n = op();
    if (n !== undefined) {
      expect(n).toBeGreaterThanOrEqual(0);
      expect(n).toBeLessThanOrEqual(limit);
    }
  } catch (e) {
    expect(e).toBeInstanceOf(RingError);
  }
}

describe('hostile peers', () => {
  it('xenstore page: any index values give a bounded result or a RingError', () => {
    fc.assert(
      fc.property(fc.array(word, { minLength: 4, maxLength: 4 }), (indices) => {
        const buffer = new ArrayBuffer(4096);
        const server = XenstoreRing.initialise(buffer, XenstoreFeature.ERROR);
        const guest = new XenstoreRing('guest', buffer);
        const view = new DataView(buffer);
        indices.forEach((v, i) => {
          view.setUint32(2048 + 4 * i, v, true);
        });
        for (const end of [guest, server]) {
          survives(() => end.write(new Uint8Array(1500)), 1024);
          survives(() => end.read(new Uint8Array(1500)), 1024);
          survives(() => end.readable(), 1024);
          survives(() => end.writable(), 1024);
        }
      }),
      { numRuns: runs },
    );
  });

  it('console page: the same for both of its rings', () => {
    fc.assert(
      fc.property(fc.array(word, { minLength: 4, maxLength: 4 }), (indices) => {
        const buffer = new ArrayBuffer(4096);
        const view = new DataView(buffer);
        indices.forEach((v, i) => {
          view.setUint32(3072 + 4 * i, v, true);
        });
        for (const role of ['guest', 'backend'] as const) {
          const end = new ConsoleRing(role, buffer);
          survives(() => end.write(new Uint8Array(3000)), 2048);
          survives(() => end.read(new Uint8Array(3000)), 2048);
        }
      }),
      { numRuns: runs },
    );
  });

  it('ring.h ring: a frontend writing any producer and event indices cannot derail the backend', () => {
    fc.assert(
      fc.property(fc.array(word, { minLength: 8, maxLength: 8 }), (values) => {
        const buffer = new ArrayBuffer(4096);
        const type = defineRing({ name: 't', requestSize: 48, responseSize: 48 });
        const front = type.initFront(buffer);
        const back = type.attachBack(buffer);
        const view = new DataView(buffer);
        let taken = 0;
        for (const [i, v] of values.entries()) {
          view.setUint32(4 * (i % 4), v, true);
          survives(() => back.unconsumedRequests(), back.size);
          survives(() => {
            while (back.takeRequest() !== undefined) {
              back.nextResponse();
              taken++;
              expect(taken).toBeLessThanOrEqual(8 * back.size);
            }
            return undefined;
          }, 0);
          survives(() => Number(back.pushResponses()), 1);
          survives(() => Number(back.finalCheckForRequests()), 1);
          survives(() => front.unconsumedResponses(), front.size);
          survives(() => (front.takeResponse() === undefined ? 0 : 1), 1);
        }
      }),
      { numRuns: runs },
    );
  });

  it('vchan page: any orders, indices and notify bytes give a bounded result or a RingError', () => {
    fc.assert(
      fc.property(
        fc.array(word, { minLength: 4, maxLength: 4 }),
        fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 2, maxLength: 2 }),
        fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }),
        (indices, orders, flags) => {
          const page = new ArrayBuffer(4096);
          const view = new DataView(page);
          Vchan.initServer(page, { left: 10, right: 11 });
          indices.forEach((v, i) => {
            view.setUint32(4 * i, v, true);
          });
          if (orders[0]! % 3 === 0) {
            view.setUint16(VchanOffset.leftOrder, orders[0]!, true);
            view.setUint16(VchanOffset.rightOrder, orders[1]!, true);
          }
          flags.forEach((f, i) => {
            view.setUint8(VchanOffset.cliLive + i, f);
          });
          for (const role of ['server', 'client'] as const) {
            let end: Vchan;
            try {
              end = new Vchan(role, page, { left: { buffer: new ArrayBuffer(1 << 20) } });
            } catch (e) {
              expect(e).toBeInstanceOf(RingError);
              continue;
            }
            survives(() => end.write(new Uint8Array(3000)), 3000);
            survives(() => end.read(new Uint8Array(3000)), 3000);
            survives(() => end.dataReady(), 2 ** 20);
            survives(() => end.bufferSpace(), 2 ** 20);
          }
        },
      ),
      { numRuns: runs },
    );
  });
});
