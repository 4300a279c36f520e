import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  XenstoreConnectionState,
  XenstoreErrorIndicator,
  XenstoreOffset,
  XenstoreRing,
} from '../../src/ring/index.ts';
import { HEADER_SIZE } from '../../src/xenstore/constants.ts';
import { RawConnection } from '../support/raw-connection.ts';
import {
  type FakeGuest,
  type RealXenstored,
  startRealXenstored,
  xenInstall,
} from '../support/real-xenstored.ts';

/**
 * The guest end of the xenstore page against Xen's own C xenstored (4.17, under the harness's
 * shim, which maps the guest's page from a file). Node cannot map that file, so each step reads
 * the page into a buffer, lets XenstoreRing work on it, and writes back only what a guest owns —
 * the request data, `req_prod`, `rsp_cons` and, to reconnect, `connection` — as the daemon
 * never writes those.
 */

const GUEST = 7;
const PORT = 107;
const WRITE = 11;
const READ = 2;
const INTRODUCE = 8;
const GET_DOMAIN_PATH = 10;
const SET_PERMS = 14;

class FilePage {
  readonly buffer = new ArrayBuffer(4096);
  private readonly bytes = new Uint8Array(this.buffer);
  private readonly fd: number;

  constructor(path: string) {
    this.fd = openSync(path, 'r+');
  }

  /** A fresh copy of the page and a guest end over it. */
  pull(): XenstoreRing {
    readSync(this.fd, this.bytes, 0, 4096, 0);
    return new XenstoreRing('guest', this.buffer);
  }

  /** Writes back the guest's own fields, data before the index that publishes it. */
  push(...fields: ('requests' | 'rspCons' | 'connection')[]): void {
    for (const field of fields) {
      if (field === 'requests') {
        writeSync(this.fd, this.bytes, 0, 1024, 0);
        writeSync(this.fd, this.bytes, XenstoreOffset.reqProd, 4, XenstoreOffset.reqProd);
      } else {
        const at = XenstoreOffset[field];
        writeSync(this.fd, this.bytes, at, 4, at);
      }
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

function message(type: number, reqId: number, payload: string): Uint8Array {
  const body = new TextEncoder().encode(payload);
  const bytes = new Uint8Array(HEADER_SIZE + body.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, type, true);
  view.setUint32(4, reqId, true);
  view.setUint32(12, body.length, true);
  bytes.set(body, HEADER_SIZE);
  return bytes;
}

describe.skipIf(xenInstall === undefined)('xenstore page against the C xenstored', () => {
  let daemon: RealXenstored;
  let guest: FakeGuest;
  let admin: RawConnection;
  let page: FilePage;
  /** The daemon services rings on each pass of its loop; a dom0 request makes it run one. */
  const wake = () =>
    admin.exchange({
      type: GET_DOMAIN_PATH,
      reqId: 1,
      txId: 0,
      payload: new TextEncoder().encode('0\0'),
    });

  beforeAll(async () => {
    daemon = await startRealXenstored(xenInstall!);
    guest = await daemon.createGuest(GUEST, PORT);
    admin = await RawConnection.open(daemon.socketPath);
    const reply = await admin.exchange({
      type: INTRODUCE,
      reqId: 2,
      txId: 0,
      payload: guest.introducePayload,
    });
    expect(reply.reply.type).toBe(INTRODUCE);
    // As a toolstack does: the guest's home, owned by the guest.
    const home = `/local/domain/${GUEST}`;
    for (const [type, payload] of [
      [WRITE, `${home}\0`],
      [SET_PERMS, `${home}\0n${GUEST}\0`],
    ] as const) {
      const done = await admin.exchange({
        type,
        reqId: 3,
        txId: 0,
        payload: new TextEncoder().encode(payload),
      });
      expect(done.reply.type).toBe(type);
    }
    page = new FilePage(guest.pagePath);
  });

  afterAll(async () => {
    page?.close();
    admin?.close();
    await daemon?.stop();
  });

  /** Sends one request through the ring and collects the whole reply. */
  async function request(bytes: Uint8Array): Promise<{ type: number; payload: string }> {
    let sent = 0;
    while (sent < bytes.length) {
      sent += page.pull().write(bytes.subarray(sent));
      page.push('requests');
      await wake();
    }
    const reply = new Uint8Array(HEADER_SIZE + 4096);
    const view = new DataView(reply.buffer);
    let length = HEADER_SIZE;
    let got = 0;
    for (let tries = 0; got < length; tries++) {
      if (tries > 1000) throw new Error('no reply from xenstored');
      const n = page.pull().read(reply.subarray(got, length));
      page.push('rspCons');
      got += n;
      // The header's last word is the payload length: read that much more.
      if (got === HEADER_SIZE) length += view.getUint32(12, true);
      if (n === 0) await wake();
    }
    return {
      type: view.getUint32(0, true),
      payload: new TextDecoder().decode(reply.subarray(HEADER_SIZE, length)),
    };
  }

  it('reads the state the daemon puts in the page', () => {
    const ring = page.pull();
    expect(ring.connection).toBe(XenstoreConnectionState.CONNECTED);
    expect(ring.error).toBe(XenstoreErrorIndicator.NONE);
    // C xenstored 4.17 advertises no features, so a guest may not ask it to reconnect.
    expect(ring.serverFeatures).toBe(0);
    expect(() => ring.requestReconnect()).toThrow(expect.objectContaining({ code: 'ENOTCONN' }));
  });

  it('carries requests and replies, including ones longer than the ring', async () => {
    const value = 'v'.repeat(1500); // within the 2048-byte node quota of a guest
    const path = `/local/domain/${GUEST}/big`;
    expect(await request(message(WRITE, 3, `${path}\0${value}`))).toEqual({
      type: WRITE,
      payload: 'OK\0',
    });
    expect(await request(message(READ, 4, `${path}\0`))).toEqual({ type: READ, payload: value });
  });
});
