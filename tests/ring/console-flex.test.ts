import { describe, expect, it } from 'vitest';
import {
  ConsoleRing,
  FlexIntfOffset,
  FlexRing,
  flexRingSize,
  XenconsConnection,
  XenconsOffset,
} from '../../src/ring/index.ts';

describe('console ring', () => {
  it('carries output from the guest and input to it, at console.h offsets', () => {
    const buffer = new ArrayBuffer(4096);
    const view = new DataView(buffer);
    const guest = new ConsoleRing('guest', buffer);
    const backend = new ConsoleRing('backend', buffer);
    expect(guest.write(new TextEncoder().encode('login: '))).toBe(7);
    expect(view.getUint32(XenconsOffset.outProd, true)).toBe(7);
    expect(view.getUint8(XenconsOffset.out)).toBe('l'.charCodeAt(0));
    const out = new Uint8Array(16);
    expect(new TextDecoder().decode(out.subarray(0, backend.read(out)))).toBe('login: ');
    expect(backend.write(new Uint8Array(1500))).toBe(1024); // in[] is 1024 bytes
    expect(guest.write(new Uint8Array(3000))).toBe(2048); // out[] is 2048 bytes
    expect(view.getUint32(XenconsOffset.inProd, true)).toBe(1024);
  });

  it('keeps a guest from filling a ring nobody drains', () => {
    const buffer = new ArrayBuffer(4096);
    const guest = new ConsoleRing('guest', buffer);
    const backend = new ConsoleRing('backend', buffer);
    backend.setConnection(XenconsConnection.DISCONNECTED);
    expect(new Uint8Array(buffer)[XenconsOffset.connection]).toBe(1);
    expect(() => guest.write(Uint8Array.of(1))).toThrow(
      expect.objectContaining({ code: 'ENOTCONN' }),
    );
    backend.setConnection(XenconsConnection.CONNECTED);
    expect(guest.write(Uint8Array.of(1))).toBe(1);
    expect(() => guest.setConnection(XenconsConnection.CONNECTED)).toThrow(
      expect.objectContaining({ code: 'EPERM' }),
    );
  });
});

describe('flex ring', () => {
  it('sizes directions as XEN_FLEX_RING_SIZE and splits data into in, then out', () => {
    expect(flexRingSize(0)).toBe(2048);
    expect(flexRingSize(3)).toBe(16384);
    expect(() => flexRingSize(-1)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const intf = new SharedArrayBuffer(4096);
    const data = new SharedArrayBuffer(2 * flexRingSize(1));
    const front = new FlexRing('frontend', intf, data, 1);
    const back = new FlexRing('backend', intf, data, 1);
    expect(front.write(Uint8Array.of(7))).toBe(1);
    expect(new Uint8Array(data)[4096]).toBe(7); // out half starts at XEN_FLEX_RING_SIZE(1)
    expect(new DataView(intf).getUint32(FlexIntfOffset.outProd, true)).toBe(1);
    back.write(Uint8Array.of(9));
    expect(new Uint8Array(data)[0]).toBe(9);
    expect(new DataView(intf).getUint32(FlexIntfOffset.inProd, true)).toBe(1);
    const one = new Uint8Array(1);
    expect(back.read(one)).toBe(1);
    expect(one[0]).toBe(7);
    expect(front.read(one)).toBe(1);
    expect(one[0]).toBe(9);
  });

  it('rejects a data area smaller than the order needs', () => {
    expect(() => new FlexRing('frontend', new ArrayBuffer(4096), new ArrayBuffer(4096), 1)).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
  });
});
