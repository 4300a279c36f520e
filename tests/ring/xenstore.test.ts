import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  RingError,
  RingIndexError,
  XenstoreConnectionState,
  XenstoreErrorIndicator,
  XenstoreFeature,
  XenstoreOffset,
  XenstoreRing,
} from '../../src/ring/index.ts';
import { fillPattern, fnv1a } from './support/pattern.ts';

const runs = Number(process.env.XENWIRE_RING_RUNS ?? 100);
const ALL = XenstoreFeature.RECONNECTION | XenstoreFeature.ERROR;

function pair(features = ALL, byteOffset = 0) {
  const buffer = new SharedArrayBuffer(byteOffset + 4096);
  const notes = { guest: 0, server: 0 };
  const server = XenstoreRing.initialise(buffer, features, {
    byteOffset,
    notify: () => notes.guest++,
  });
  const guest = new XenstoreRing('guest', buffer, { byteOffset, notify: () => notes.server++ });
  return { buffer, view: new DataView(buffer, byteOffset), server, guest, notes };
}

/** A message header (`xsd_sockmsg`) announcing a payload of `len` bytes. */
describe('xenstore ring page', () => {
  it('places every field at its xs_wire.h offset', () => {
    const { view, server, guest } = pair(ALL | XenstoreFeature.WATCHDEPTH, 8);
    expect(view.getUint32(XenstoreOffset.serverFeatures, true)).toBe(7);
    expect(guest.hasFeature(XenstoreFeature.WATCHDEPTH)).toBe(true);
    expect(guest.hasFeature(XenstoreFeature.DOMID_ANY)).toBe(false);
    guest.write(Uint8Array.of(0xab, 0xcd));
    expect(view.getUint8(0)).toBe(0xab);
    expect(view.getUint32(XenstoreOffset.reqProd, true)).toBe(2);
    server.read(new Uint8Array(1));
    expect(view.getUint32(XenstoreOffset.reqCons, true)).toBe(1);
    server.write(Uint8Array.of(0xef));
    expect(view.getUint8(1024)).toBe(0xef);
    expect(view.getUint32(XenstoreOffset.rspProd, true)).toBe(1);
    view.setUint32(XenstoreOffset.evtchnPort, 17, true);
    expect(guest.evtchnPort).toBe(17);
  });

  it('runs the reconnection handshake from both sides', () => {
    const { view, server, guest, notes } = pair();
    guest.write(new Uint8Array(100));
    server.write(new Uint8Array(50));
    guest.requestReconnect();
    expect(notes.server).toBe(2);
    expect(server.reconnecting).toBe(true);
    expect(view.getUint32(XenstoreOffset.connection, true)).toBe(XenstoreConnectionState.RECONNECT);
    server.completeReconnect();
    expect(guest.reconnecting).toBe(false);
    expect(guest.readable()).toBe(0);
    for (const off of [2048, 2052, 2056, 2060]) expect(view.getUint32(off, true)).toBe(0);
    expect(() => server.requestReconnect()).toThrow(expect.objectContaining({ code: 'EPERM' }));
    expect(() => guest.completeReconnect()).toThrow(expect.objectContaining({ code: 'EPERM' }));
  });

  it('refuses to reconnect when the server lacks the feature', () => {
    const { guest } = pair(0);
    expect(() => guest.requestReconnect()).toThrow(expect.objectContaining({ code: 'ENOTCONN' }));
    expect(guest.connection).toBe(XenstoreConnectionState.CONNECTED);
  });

  it('records RINGIDX on the server when a guest corrupts the indices', () => {
    const { view, server, guest } = pair();
    view.setUint32(XenstoreOffset.reqProd, 2000, true);
    expect(() => server.read(new Uint8Array(16))).toThrow(RingIndexError);
    expect(server.error).toBe(XenstoreErrorIndicator.RINGIDX);
    expect(guest.error).toBe(XenstoreErrorIndicator.RINGIDX);
    server.completeReconnect();
    expect(guest.error).toBe(XenstoreErrorIndicator.NONE);
    // Without the ERROR feature the page has no error field to write.
    const quiet = pair(XenstoreFeature.RECONNECTION);
    quiet.view.setUint32(XenstoreOffset.reqCons, 5, true);
    expect(() => quiet.server.readable()).toThrow(RingIndexError);
    expect(quiet.server.error).toBe(XenstoreErrorIndicator.NONE);
  });

  it('the guest gets EPROTO, and the page is left alone, when the server corrupts indices', () => {
    const { view, guest } = pair();
    view.setUint32(XenstoreOffset.rspProd, 3 * 1024, true);
    expect(() => guest.read(new Uint8Array(8))).toThrow(
      expect.objectContaining({ code: 'EPROTO' }),
    );
    expect(guest.error).toBe(XenstoreErrorIndicator.NONE);
  });

  it('rejects pages that do not fit or are misaligned', () => {
    expect(() => new XenstoreRing('guest', new ArrayBuffer(4095))).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    expect(() => new XenstoreRing('guest', new ArrayBuffer(8192), { byteOffset: 2 })).toThrow(
      RingError,
    );
    expect(() => new XenstoreRing('dom0' as 'guest', new ArrayBuffer(4096))).toThrow(RingError);
  });

  it('reassembles random message sizes into exactly the stream sent', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 4096 + 16 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 10 }),
        fc.oneof(fc.constant(0), fc.constant(2 ** 32 - 100)),
        (messages, readSizes, start) => {
          const { view, server, guest } = pair();
          for (const off of [2048, 2052]) view.setUint32(off, start, true);
          const sent = messages.map((len, i) => fillPattern(new Uint8Array(len), i));
          const total = sent.reduce((n, m) => n + m.length, 0);
          const received = new Uint8Array(total);
          let got = 0;
          let turn = 0;
          for (const message of sent) {
            let off = 0;
            while (off < message.length) {
              off += guest.write(message.subarray(off));
              const want = readSizes[turn++ % readSizes.length]!;
              got += server.read(received.subarray(got, got + want));
            }
          }
          while (got < total) got += server.read(received.subarray(got));
          expect(fnv1a(received)).toBe(sent.reduce((h, m) => fnv1a(m, h), 2166136261));
        },
      ),
      { numRuns: runs },
    );
  });
});
