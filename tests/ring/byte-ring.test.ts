import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteRing, RingArea, RingError, RingIndexError } from '../../src/ring/index.ts';
import { fillPattern } from './support/pattern.ts';

const runs = Number(process.env.XENWIRE_RING_RUNS ?? 100);

/** A 64-byte ring: indices at 0 and 4, data at 64. */
function smallRing(size = 64, start = 0) {
  const buffer = new ArrayBuffer(64 + size);
  const area = new RingArea(buffer, 0, undefined, 'test');
  const view = new DataView(buffer);
  view.setUint32(0, start, true);
  view.setUint32(4, start, true);
  return { ring: new ByteRing(area, { name: 'test', cons: 0, prod: 4, data: 64, size }), view };
}

describe('ByteRing', () => {
  it('moves bytes in order and stops at full and empty', () => {
    const { ring } = smallRing(8);
    expect(ring.write(Uint8Array.of(1, 2, 3, 4, 5, 6))).toBe(6);
    expect(ring.write(Uint8Array.of(7, 8, 9, 10))).toBe(2);
    expect(ring.write(Uint8Array.of(11))).toBe(0);
    const out = new Uint8Array(5);
    expect(ring.read(out)).toBe(5);
    expect([...out]).toEqual([1, 2, 3, 4, 5]);
    expect(ring.write(Uint8Array.of(9, 10, 11, 12))).toBe(4);
    const rest = new Uint8Array(20);
    expect(ring.read(rest)).toBe(7);
    expect([...rest.subarray(0, 7)]).toEqual([6, 7, 8, 9, 10, 11, 12]);
    expect(ring.read(rest)).toBe(0);
  });

  it('keeps free-running indices across 2^32', () => {
    const { ring, view } = smallRing(64, 2 ** 32 - 10);
    const data = fillPattern(new Uint8Array(50), 7);
    expect(ring.write(data)).toBe(50);
    expect(view.getUint32(4, true)).toBe(40);
    expect(ring.used()).toBe(50);
    const out = new Uint8Array(50);
    expect(ring.read(out)).toBe(50);
    expect(out).toEqual(data);
    expect(view.getUint32(0, true)).toBe(40);
  });

  it('asks for a notification only when the peer may be asleep', () => {
    const { ring } = smallRing(8);
    ring.write(Uint8Array.of(1));
    expect(ring.notifyNeeded).toBe(true); // consumer had caught up: may be waiting for data
    ring.write(Uint8Array.of(2));
    expect(ring.notifyNeeded).toBe(false); // data was already pending: consumer is awake
    ring.read(new Uint8Array(1));
    expect(ring.notifyNeeded).toBe(false); // ring was not full: producer is not waiting
    ring.write(new Uint8Array(7));
    ring.read(new Uint8Array(1));
    expect(ring.notifyNeeded).toBe(true); // ring was full: producer may be waiting for room
  });

  it('refuses corrupt indices with EPROTO before touching data', () => {
    const { ring, view } = smallRing(8);
    view.setUint32(4, 9, true);
    const out = new Uint8Array(4).fill(0xaa);
    expect(() => ring.read(out)).toThrow(RingIndexError);
    expect(() => ring.write(Uint8Array.of(1))).toThrow(RingIndexError);
    expect([...out]).toEqual([0xaa, 0xaa, 0xaa, 0xaa]);
    // prod behind cons is the same violation seen from the other side
    view.setUint32(0, 5, true);
    view.setUint32(4, 4, true);
    try {
      ring.used();
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(RingError);
      expect((e as RingError).code).toBe('EPROTO');
    }
  });

  it('rejects impossible layouts with EINVAL', () => {
    const area = new RingArea(new ArrayBuffer(256), 0, undefined, 'test');
    const bad = [
      { name: 'x', cons: 0, prod: 4, data: 64, size: 100 },
      { name: 'x', cons: 2, prod: 4, data: 64, size: 64 },
      { name: 'x', cons: 0, prod: 4, data: 200, size: 64 },
      { name: 'x', cons: 0, prod: 256, data: 64, size: 64 },
    ];
    for (const layout of bad) {
      expect(() => new ByteRing(area, layout)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    }
    expect(() => new RingArea(new ArrayBuffer(16), 2, undefined, 'x')).toThrow(RingError);
    expect(() => new RingArea(new ArrayBuffer(16), 0, 32, 'x')).toThrow(RingError);
  });

  it('matches a FIFO model under random interleavings of write and read', () => {
    const op = fc.oneof(
      fc.record({ write: fc.integer({ min: 0, max: 150 }) }),
      fc.record({ read: fc.integer({ min: 0, max: 150 }) }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 8, 64),
        fc.oneof(fc.constant(2 ** 32 - 3), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
        fc.array(op, { maxLength: 60 }),
        (size, start, ops) => {
          const { ring } = smallRing(size, start);
          const model: number[] = [];
          let seed = 0;
          for (const o of ops) {
            if ('write' in o) {
              const src = fillPattern(new Uint8Array(o.write), seed++);
              const n = ring.write(src);
              expect(n).toBe(Math.min(o.write, size - model.length));
              model.push(...src.subarray(0, n));
            } else {
              const dst = new Uint8Array(o.read);
              const n = ring.read(dst);
              expect(n).toBe(Math.min(o.read, model.length));
              expect([...dst.subarray(0, n)]).toEqual(model.splice(0, n));
            }
            expect(ring.used()).toBe(model.length);
            expect(ring.free()).toBe(size - model.length);
          }
        },
      ),
      { numRuns: runs },
    );
  });
});
