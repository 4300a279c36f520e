/**
 * The socket backend as the guest side of a real C xenstored running under the test harness's
 * LD_PRELOAD shim (harness/README.md): the guest's ring page is a file both processes map, and
 * its event channel is a pair of unix datagram sockets. Requires the harness (fetched Debian
 * Xen packages and the shim); under CI=true its absence fails the file.
 */
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mapFile, unmap } from '../../src/device/index.ts';
import { SocketEventChannel } from '../../src/evtchn/index.ts';
import { startRealXenstored, xenInstall } from '../support/real-xenstored.ts';
import { nativeAddonReady } from '../support/requirements.ts';

const ready = nativeAddonReady() && xenInstall !== undefined;

const XS_INTRODUCE = 8;
const XS_GET_DOMAIN_PATH = 10;
const HEADER = 16;
// struct xenstore_domain_interface: two 1024-byte rings, then four u32 indices.
const RING = 1024;
const REQ_PROD = 2052;
const RSP_CONS = 2056;
const RSP_PROD = 2060;

function message(type: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(HEADER);
  header.writeUInt32LE(type, 0);
  header.writeUInt32LE(1, 4);
  header.writeUInt32LE(payload.length, 12);
  return Buffer.concat([header, payload]);
}

/** Sends one request on a dom0 connection and resolves with the reply's type and payload. */
function request(socket: Socket, type: number, payload: Buffer): Promise<[number, string]> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < HEADER) return;
      const length = received.readUInt32LE(12);
      if (received.length < HEADER + length) return;
      socket.off('data', onData);
      resolve([received.readUInt32LE(0), received.subarray(HEADER, HEADER + length).toString()]);
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(message(type, payload));
  });
}

describe.skipIf(!ready)('SocketEventChannel against the real xenstored', () => {
  it('is the event channel of a guest whose ring the daemon serves', async () => {
    const daemon = await startRealXenstored(xenInstall!);
    const domid = 5;
    const guest = SocketEventChannel.open({
      localPath: join(daemon.rundir, `dom${domid}.evtchn`),
      peerPath: join(daemon.rundir, 'evtchn.sock'),
      portRange: [7, 4094],
    });
    const dom0 = connect(daemon.socketPath);
    const connected = new Promise((resolve, reject) => {
      dom0.once('connect', resolve);
      dom0.once('error', reject);
    });
    try {
      const port = guest.bindUnboundPort(0);
      const fake = await daemon.createGuest(domid, port);
      await connected;
      expect(await request(dom0, XS_INTRODUCE, fake.introducePayload)).toEqual([
        XS_INTRODUCE,
        'OK\0',
      ]);

      const buffer = mapFile(fake.pagePath, { length: 4096 });
      const page = new Uint8Array(buffer);
      const indices = new DataView(buffer);
      const events = guest.pending();
      const ask = message(XS_GET_DOMAIN_PATH, Buffer.from(`${domid}\0`));
      page.set(ask, indices.getUint32(REQ_PROD, true) % RING);
      indices.setUint32(REQ_PROD, indices.getUint32(REQ_PROD, true) + ask.length, true);
      guest.notify(port);

      // The daemon kicks the guest's port once the reply is in the response ring.
      const expected = `/local/domain/${domid}\0`;
      while (indices.getUint32(RSP_PROD, true) < HEADER + expected.length) {
        expect((await events.next()).value).toBe(port);
        guest.unmask(port);
      }
      const reply = Buffer.from(page.subarray(RING, RING + HEADER + expected.length));
      expect(reply.readUInt32LE(0)).toBe(XS_GET_DOMAIN_PATH);
      expect(reply.subarray(HEADER).toString()).toBe(expected);
      indices.setUint32(RSP_CONS, HEADER + expected.length, true);
      unmap(buffer);
    } finally {
      guest.close();
      dom0.destroy();
      await daemon.stop();
    }
  });
});
