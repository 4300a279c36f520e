import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ByteRingOutbox,
  XENSTORE_RING_SIZE,
  XenstoreFeature,
  XenstoreRing,
} from '../../src/ring/index.ts';
import { fillPattern } from './support/pattern.ts';

const runs = Number(process.env.XENWIRE_RING_RUNS ?? 100);

function pair() {
  const buffer = new SharedArrayBuffer(4096);
  const notes = { server: 0 };
  const server = XenstoreRing.initialise(buffer, XenstoreFeature.RECONNECTION);
  const guest = new XenstoreRing('guest', buffer, { notify: () => notes.server++ });
  return { server, guest, notes, outbox: new ByteRingOutbox(guest) };
}

function drain(server: XenstoreRing): Uint8Array {
  const out = new Uint8Array(server.readable());
  server.read(out);
  return out;
}

describe('byte ring outbox', () => {
  it('asks for a flush only for the first chunk queued while nothing waits', () => {
    const { outbox, server } = pair();
    expect(outbox.push(new Uint8Array([1, 2]))).toBe(true);
    expect(outbox.push(new Uint8Array([3]))).toBe(false);
    expect(outbox.flush()).toBe(true);
    expect([...drain(server)]).toEqual([1, 2, 3]);
    expect(outbox.push(new Uint8Array([4]))).toBe(true);
  });

  it('keeps what the full ring cannot take, the head half written, and resumes in order', () => {
    const { outbox, server, notes } = pair();
    const big = fillPattern(new Uint8Array(XENSTORE_RING_SIZE + 100), 7);
    const tail = fillPattern(new Uint8Array(50), 9);
    outbox.push(big);
    outbox.push(tail);
    expect(outbox.queuedBytes).toBe(big.length + tail.length);
    expect(outbox.flush()).toBe(false);
    expect(outbox.queuedBytes).toBe(100 + tail.length);
    expect(notes.server).toBe(1); // the ring's own rule: the server may wait for these bytes
    const first = drain(server);
    expect(first).toEqual(big.subarray(0, XENSTORE_RING_SIZE));
    expect(outbox.push(new Uint8Array([1]))).toBe(false); // still waiting for room
    expect(outbox.flush()).toBe(true);
    expect(drain(server)).toEqual(
      new Uint8Array([...big.subarray(XENSTORE_RING_SIZE), ...tail, 1]),
    );
  });

  it('sends straight into the ring while nothing waits, queueing only what does not fit', () => {
    const { outbox, server, notes } = pair();
    expect(outbox.send(new Uint8Array([1, 2]))).toBe(true);
    expect(outbox.queuedBytes).toBe(0);
    expect(notes.server).toBe(1);
    expect([...drain(server)]).toEqual([1, 2]);
    const big = fillPattern(new Uint8Array(XENSTORE_RING_SIZE + 100), 3);
    expect(outbox.send(big)).toBe(false);
    expect(outbox.queuedBytes).toBe(100);
    // Behind queued bytes, even a byte the ring has room for waits its turn.
    expect(outbox.send(new Uint8Array([9]))).toBe(false);
    expect(outbox.queuedBytes).toBe(101);
    expect(drain(server)).toEqual(big.subarray(0, XENSTORE_RING_SIZE));
    expect(outbox.flush()).toBe(true);
    expect(drain(server)).toEqual(new Uint8Array([...big.subarray(XENSTORE_RING_SIZE), 9]));
    expect(outbox.send(new Uint8Array([4]))).toBe(true);
  });

  it('forgets everything on clear', () => {
    const { outbox, server } = pair();
    outbox.push(new Uint8Array(XENSTORE_RING_SIZE + 1));
    outbox.flush();
    drain(server);
    outbox.clear();
    expect(outbox.queuedBytes).toBe(0);
    expect(outbox.flush()).toBe(true);
    expect(server.readable()).toBe(0);
    expect(outbox.push(new Uint8Array([5]))).toBe(true);
  });

  it('delivers any sequence of chunks intact, however the reader keeps up', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: XENSTORE_RING_SIZE }), { minLength: 1 }),
        (sizes, reads) => {
          const { outbox, server } = pair();
          const chunks = sizes.map((n, i) => fillPattern(new Uint8Array(n), i));
          const expected = chunks.flatMap((c) => [...c]);
          const got: number[] = [];
          for (const chunk of chunks) if (outbox.push(chunk)) outbox.flush();
          for (let i = 0; !outbox.flush() || server.readable() > 0; i++) {
            const buf = new Uint8Array(reads[i % reads.length]!);
            got.push(...buf.subarray(0, server.read(buf)));
          }
          expect(got).toEqual(expected);
        },
      ),
      { numRuns: runs },
    );
  });

  it('keeps the order of chunks sent while the reader reads at any pace in between', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ send: fc.integer({ min: 0, max: 1500 }) }),
            fc.record({ read: fc.integer({ min: 1, max: XENSTORE_RING_SIZE }) }),
          ),
          { maxLength: 40 },
        ),
        (steps) => {
          const { outbox, server } = pair();
          const expected: number[] = [];
          const got: number[] = [];
          const read = (n: number) => {
            const buf = new Uint8Array(n);
            got.push(...buf.subarray(0, server.read(buf)));
          };
          steps.forEach((step, i) => {
            if ('send' in step) {
              const chunk = fillPattern(new Uint8Array(step.send), i);
              expected.push(...chunk);
              const queuedBefore = outbox.queuedBytes;
              const whole = outbox.send(chunk);
              expect(whole).toBe(outbox.queuedBytes === 0);
              if (queuedBefore > 0) expect(outbox.queuedBytes).toBe(queuedBefore + chunk.length);
            } else {
              read(step.read);
              outbox.flush();
            }
          });
          while (!outbox.flush() || server.readable() > 0) read(XENSTORE_RING_SIZE);
          expect(got).toEqual(expected);
        },
      ),
      { numRuns: runs },
    );
  });
});
