import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defineRing, RingError, RingIndexError, ringEntries } from '../../src/ring/index.ts';

const runs = Number(process.env.XENWIRE_RING_RUNS ?? 100);

const setU32 = (b: Uint8Array, v: number) =>
  new DataView(b.buffer, b.byteOffset).setUint32(0, v, true);
const getU32 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getUint32(0, true);

describe('ring.h request/response rings', () => {
  it('sizes rings as __CONST_RING_SIZE does', () => {
    // blkif (112-byte requests), netif tx (12) and rx (8), one page; a 4-page blkif ring.
    expect(ringEntries(4096, 112)).toBe(32);
    expect(ringEntries(4096, 12)).toBe(256);
    expect(ringEntries(4096, 8)).toBe(256);
    expect(ringEntries(4 * 4096, 112)).toBe(128);
    expect(ringEntries(4096, 4032)).toBe(1);
    expect(ringEntries(4096, 2016)).toBe(2);
    expect(() => ringEntries(4096, 4033)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => ringEntries(4096, 0)).toThrow(RingError);
    const type = defineRing({ name: 'blkif', requestSize: 112, responseSize: 16 });
    expect(type.entrySize).toBe(112);
    expect(type.entries(8192)).toBe(64);
  });

  it('initialises the shared header as SHARED_RING_INIT', () => {
    const buffer = new ArrayBuffer(4096);
    new Uint8Array(buffer).fill(0xff);
    defineRing({ name: 't', requestSize: 64, responseSize: 64 }).initFront(buffer);
    const view = new DataView(buffer);
    expect([0, 4, 8, 12].map((o) => view.getUint32(o, true))).toEqual([0, 1, 0, 1]);
    expect([...new Uint8Array(buffer, 16, 48)].every((b) => b === 0)).toBe(true);
    expect(new Uint8Array(buffer)[64]).toBe(0xff); // slots are left alone
  });

  it('notifies only when the peer asked, and final checks re-arm the event index', () => {
    const buffer = new ArrayBuffer(4096);
    const type = defineRing({ name: 't', requestSize: 16, responseSize: 16 });
    const front = type.initFront(buffer);
    const back = type.attachBack(buffer);
    front.nextRequest();
    expect(front.pushRequests()).toBe(true); // req_event = 1 at init: the backend waits
    front.nextRequest();
    expect(front.pushRequests()).toBe(false); // backend has not re-armed: it is busy
    expect(back.takeRequest()).toBeDefined();
    expect(back.takeRequest()).toBeDefined();
    expect(back.finalCheckForRequests()).toBe(false); // nothing left: re-armed at req_cons+1
    expect(back.reqEvent).toBe(3);
    front.nextRequest();
    expect(front.pushRequests()).toBe(true);
    expect(back.finalCheckForRequests()).toBe(true);
  });

  it('guards against a peer claiming more than the ring holds', () => {
    const buffer = new ArrayBuffer(4096);
    const type = defineRing({ name: 't', requestSize: 64, responseSize: 64 });
    const front = type.initFront(buffer);
    const back = type.attachBack(buffer);
    const view = new DataView(buffer);
    view.setUint32(0, front.size + 1, true); // req_prod beyond the ring
    expect(() => back.unconsumedRequests()).toThrow(RingIndexError);
    expect(() => back.takeRequest()).toThrow(expect.objectContaining({ code: 'EPROTO' }));
    expect(back.requestProdOverflow(front.size + 1)).toBe(true);
    expect(back.requestConsOverflow(front.size)).toBe(true);
    expect(back.requestConsOverflow(front.size - 1)).toBe(false);
    view.setUint32(8, 2 ** 31, true); // rsp_prod beyond the ring
    expect(() => front.takeResponse()).toThrow(RingIndexError);
    expect(() => front.finalCheckForResponses()).toThrow(RingIndexError);
  });

  it('refuses to overfill: ENOSPC for a full front and for unrequested responses', () => {
    const buffer = new ArrayBuffer(4096);
    const type = defineRing({ name: 't', requestSize: 2016, responseSize: 8 });
    const front = type.initFront(buffer);
    const back = type.attachBack(buffer);
    front.nextRequest();
    front.nextRequest();
    expect(front.full).toBe(true);
    expect(() => front.nextRequest()).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
    expect(() => back.nextResponse()).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
  });

  it('copies batches out and in whole, across the end of the ring, without touching the rest', () => {
    const buffer = new ArrayBuffer(4096);
    const type = defineRing({ name: 't', requestSize: 64, responseSize: 64 });
    const front = type.initFront(buffer);
    const back = type.attachBack(buffer);
    const bytes = new Uint8Array(buffer);
    const entries = (n: number, seed: number) =>
      Uint8Array.from({ length: n * 64 }, (_, i) => (seed + i * 7) & 0xff);
    // Move the indices to 30 of 32 slots, so the next batch of 4 wraps.
    const first = entries(30, 1);
    expect(front.writeRequests(first)).toBe(30);
    front.pushRequests();
    expect(back.takeRequests(new Uint8Array(30 * 64))).toBe(30);
    expect(back.writeResponses(first)).toBe(30);
    back.pushResponses();
    expect(front.takeResponses(new Uint8Array(30 * 64))).toBe(30);
    const second = entries(4, 5);
    expect(front.writeRequests(second)).toBe(4);
    expect(bytes.subarray(64 + 30 * 64, 64 + 32 * 64)).toEqual(second.subarray(0, 2 * 64));
    expect(bytes.subarray(64, 64 + 2 * 64)).toEqual(second.subarray(2 * 64));
    expect(bytes.subarray(64 + 2 * 64, 64 + 3 * 64)).toEqual(first.subarray(2 * 64, 3 * 64));
    front.pushRequests();
    const into = new Uint8Array(4 * 64 + 10).fill(0xee);
    expect(back.takeRequests(into)).toBe(4);
    expect(into.subarray(0, 4 * 64)).toEqual(second);
    expect(into.subarray(4 * 64).every((b) => b === 0xee)).toBe(true);
    // Copied out: the frontend rewriting the slots changes nothing taken.
    bytes.fill(0, 64);
    expect(into.subarray(0, 4 * 64)).toEqual(second);
    // A backend answers only requests it consumed; a frontend fills only free slots.
    expect(back.writeResponses(entries(8, 9))).toBe(4);
    expect(front.writeRequests(entries(40, 9))).toBe(28);
    expect(() => front.writeRequests(entries(1, 0), -1)).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    expect(() => back.writeResponses(entries(1, 0), 0.5)).toThrow(RingError);
  });

  it('checks the peer index of a batch as of a single take', () => {
    const buffer = new ArrayBuffer(4096);
    const type = defineRing({ name: 't', requestSize: 64, responseSize: 64 });
    const front = type.initFront(buffer);
    const back = type.attachBack(buffer);
    const view = new DataView(buffer);
    view.setUint32(0, front.size + 1, true);
    expect(() => back.takeRequests(new Uint8Array(64))).toThrow(RingIndexError);
    view.setUint32(8, 2 ** 31, true);
    expect(() => front.takeResponses(new Uint8Array(64))).toThrow(RingIndexError);
  });

  it('copies requests out, so the frontend cannot change one after it is taken', () => {
    const buffer = new ArrayBuffer(4096);
    const type = defineRing({ name: 't', requestSize: 4, responseSize: 4 });
    const front = type.initFront(buffer);
    const back = type.attachBack(buffer);
    const slot = front.nextRequest();
    slot.set([1, 2, 3, 4]);
    front.pushRequests();
    const into = new Uint8Array(4);
    expect(back.takeRequest(into)).toBe(into);
    slot.set([9, 9, 9, 9]);
    expect([...into]).toEqual([1, 2, 3, 4]);
  });

  it('delivers every request and response once, in order, under random schedules', () => {
    const step = fc.constantFrom(
      'req',
      'push',
      'take',
      'rsp',
      'pushRsp',
      'takeRsp',
      'final',
      'reqs',
      'takes',
      'rsps',
      'takeRsps',
    );
    fc.assert(
      fc.property(
        fc.constantFrom(4, 100, 1000),
        fc.oneof(fc.constant(0), fc.constant(2 ** 32 - 2)),
        fc.array(step, { maxLength: 200 }),
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1 }),
        (entry, start, steps, batches) => {
          const buffer = new ArrayBuffer(4096);
          const view = new DataView(buffer);
          const type = defineRing({ name: 't', requestSize: entry, responseSize: 4 });
          type.initFront(buffer);
          for (const off of [0, 8]) view.setUint32(off, start, true);
          const front = type.attachFront(buffer, {}, start);
          const back = type.attachBack(buffer, {}, start);
          let sent = 0;
          let published = 0;
          let taken = 0;
          let answered = 0;
          let answerPublished = 0;
          let received = 0;
          // Batch steps move up to the next of `batches` entries through a staging buffer, the
          // buffer a few bytes longer than the whole entries to show those bytes are ignored.
          let batch = 0;
          const staging = () => {
            const n = batches[batch++ % batches.length]!;
            const bytes = new Uint8Array(n * front.entrySize + 3);
            return { n, bytes, at: (k: number) => bytes.subarray(k * front.entrySize) };
          };
          for (const s of steps) {
            if (s === 'req' && !front.full) {
              setU32(front.nextRequest(), sent++);
            } else if (s === 'push') {
              front.pushRequests();
              published = sent;
            } else if (s === 'take') {
              const req = back.takeRequest();
              expect(req === undefined).toBe(taken === published);
              if (req) expect(getU32(req)).toBe(taken++);
            } else if (s === 'rsp' && answered < taken) {
              setU32(back.nextResponse(), answered++);
            } else if (s === 'pushRsp') {
              back.pushResponses();
              answerPublished = answered;
            } else if (s === 'takeRsp') {
              const rsp = front.takeResponse();
              expect(rsp === undefined).toBe(received === answerPublished);
              if (rsp) expect(getU32(rsp)).toBe(received++);
            } else if (s === 'reqs') {
              const { n, bytes, at } = staging();
              const fits = Math.min(n, front.freeRequests);
              for (let k = 0; k < n; k++) setU32(at(k), sent + k);
              expect(front.writeRequests(bytes, n)).toBe(fits);
              sent += fits;
            } else if (s === 'takes') {
              const { n, bytes, at } = staging();
              const got = back.takeRequests(bytes);
              expect(got).toBe(Math.min(n, published - taken));
              for (let k = 0; k < got; k++) expect(getU32(at(k))).toBe(taken++);
            } else if (s === 'rsps') {
              const { n, bytes, at } = staging();
              const fits = Math.min(n, taken - answered);
              for (let k = 0; k < n; k++) setU32(at(k), answered + k);
              expect(back.writeResponses(bytes)).toBe(fits);
              answered += fits;
            } else if (s === 'takeRsps') {
              const { n, bytes, at } = staging();
              const got = front.takeResponses(bytes);
              expect(got).toBe(Math.min(n, answerPublished - received));
              for (let k = 0; k < got; k++) expect(getU32(at(k))).toBe(received++);
            } else if (s === 'final') {
              expect(back.finalCheckForRequests()).toBe(published > taken);
              expect(front.finalCheckForResponses()).toBe(answerPublished > received);
            }
            expect(front.freeRequests).toBe(front.size - (sent - received));
            expect(back.unconsumedRequests()).toBe(published - taken);
            expect(front.unconsumedResponses()).toBe(answerPublished - received);
          }
        },
      ),
      { numRuns: runs },
    );
  });
});
