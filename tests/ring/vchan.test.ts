import { describe, expect, it } from 'vitest';
import {
  readVchanGrants,
  Vchan,
  VchanLive,
  VchanNotify,
  VchanOffset,
  vchanDataPages,
  writeVchanGrants,
} from '../../src/ring/index.ts';
import { fillPattern } from './support/pattern.ts';

function open(
  orders = { left: 10, right: 11 },
  data: { left?: SharedArrayBuffer; right?: SharedArrayBuffer } = {},
) {
  const page = new SharedArrayBuffer(4096);
  const wakes = { server: 0, client: 0 };
  const options = (who: 'server' | 'client') => ({
    ...(data.left ? { left: { buffer: data.left } } : {}),
    ...(data.right ? { right: { buffer: data.right } } : {}),
    notify: () => wakes[who === 'server' ? 'client' : 'server']++,
  });
  const server = Vchan.initServer(page, orders, options('server'));
  const client = new Vchan('client', page, options('client'));
  return { page, bytes: new Uint8Array(page), server, client, wakes };
}

describe('libxenvchan page', () => {
  it('lays out a fresh page and tracks who is live', () => {
    const { page, bytes, server, client, wakes } = open();
    const view = new DataView(page);
    expect(view.getUint16(VchanOffset.leftOrder, true)).toBe(10);
    expect(view.getUint16(VchanOffset.rightOrder, true)).toBe(11);
    expect(bytes[VchanOffset.srvLive]).toBe(VchanLive.CONNECTED);
    expect(server.peerLive).toBe(VchanLive.NOT_YET);
    client.connect();
    expect(server.peerLive).toBe(VchanLive.CONNECTED);
    expect(wakes.server).toBe(1);
    server.close();
    expect(client.peerLive).toBe(VchanLive.EXITED);
    expect(wakes.client).toBe(1);
  });

  it('keeps in-page rings at 1024 (order 10) and 2048 (order 11)', () => {
    const { bytes, server, client } = open({ left: 11, right: 10 });
    expect(client.write(Uint8Array.of(0x11))).toBe(1);
    expect(server.write(Uint8Array.of(0x22))).toBe(1);
    expect(bytes[2048]).toBe(0x11); // left, order 11
    expect(bytes[1024]).toBe(0x22); // right, order 10
    expect(client.bufferSpace()).toBe(2047);
    expect(server.bufferSpace()).toBe(1023);
  });

  it('streams through granted data pages for orders of 12 and more', () => {
    const left = new SharedArrayBuffer(8192);
    const right = new SharedArrayBuffer(4096);
    const { server, client } = open({ left: 13, right: 12 }, { left, right });
    const message = fillPattern(new Uint8Array(20_000), 5);
    const got = new Uint8Array(message.length);
    let sent = 0;
    let received = 0;
    while (received < message.length) {
      sent += client.write(message.subarray(sent));
      received += server.read(got.subarray(received));
    }
    expect(got).toEqual(message);
    expect(server.write(new Uint8Array(5000))).toBe(4096);
    expect(() => new Vchan('client', new SharedArrayBuffer(4096))).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
  });

  it('notifies only an end that asked, once per request', () => {
    const { bytes, server, client, wakes } = open();
    // Each end starts out asking for the other's first write, as libxenvchan's init does.
    expect(bytes[VchanOffset.cliNotify]).toBe(VchanNotify.WRITE);
    client.connect();
    expect(bytes[VchanOffset.srvNotify]).toBe(VchanNotify.WRITE);
    wakes.server = 0;
    client.write(Uint8Array.of(0));
    expect(wakes.server).toBe(1);
    client.write(Uint8Array.of(1));
    expect(wakes.server).toBe(1); // that request was answered
    expect(server.read(new Uint8Array(10))).toBe(2); // wanted more: asks for NOTIFY_WRITE
    expect(bytes[VchanOffset.cliNotify]! & VchanNotify.WRITE).toBe(VchanNotify.WRITE);
    client.write(Uint8Array.of(2));
    expect(wakes.server).toBe(2);
    expect(bytes[VchanOffset.cliNotify]! & VchanNotify.WRITE).toBe(0); // answered, cleared
    client.write(Uint8Array.of(3));
    expect(wakes.server).toBe(2);
    // A full ring: the writer asks the reader to tell it when it reads.
    expect(client.write(new Uint8Array(2000))).toBe(1022);
    expect(bytes[VchanOffset.srvNotify]! & VchanNotify.READ).toBe(VchanNotify.READ);
    wakes.client = 0;
    server.read(new Uint8Array(100));
    expect(wakes.client).toBe(1);
  });

  it('refuses two small rings of the same order and orders out of range', () => {
    const page = new SharedArrayBuffer(4096);
    expect(() => Vchan.initServer(page, { left: 10, right: 10 })).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    expect(() => Vchan.initServer(page, { left: 9, right: 11 })).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
  });

  it("lists the data pages' grants as libxenvchan does, left ring first, and checks a peer's list", () => {
    const page = new SharedArrayBuffer(4096);
    Vchan.initServer(
      page,
      { left: 13, right: 11 },
      { left: { buffer: new SharedArrayBuffer(8192) } },
    );
    expect(vchanDataPages(13)).toBe(2);
    writeVchanGrants(page, { left: [8, 9], right: [] });
    const view = new DataView(page);
    expect([24, 28].map((at) => view.getUint32(at, true))).toEqual([8, 9]);
    expect(readVchanGrants(page)).toEqual({
      orders: { left: 13, right: 11 },
      left: [8, 9],
      right: [],
    });
    expect(() => writeVchanGrants(page, { left: [8], right: [] })).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    // Orders a server would never pick, written by a hostile one: an order-20 ring's 256 grants
    // run into an order-10 ring at 1024; an order out of range; two in-page rings of one order.
    for (const [left, right] of [
      [20, 10],
      [21, 12],
      [11, 11],
    ] as const) {
      view.setUint16(VchanOffset.leftOrder, left, true);
      view.setUint16(VchanOffset.rightOrder, right, true);
      expect(() => readVchanGrants(page)).toThrow(expect.objectContaining({ code: 'EPROTO' }));
    }
    // The largest rings both ways fit: 2 × 256 grants end at 2072.
    view.setUint16(VchanOffset.leftOrder, 20, true);
    view.setUint16(VchanOffset.rightOrder, 20, true);
    expect(readVchanGrants(page).right).toHaveLength(256);
  });
});
