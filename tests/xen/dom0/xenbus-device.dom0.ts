// Dom0, real Xen: the xenbus character device and the xenstored socket, driven at the byte level
// with node:fs and node:net only, against the real C xenstored. These pin down the device facts
// the library's transports rely on.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XS, XsConnection, XsError } from '../domu/xs-wire.mjs';
import { skipDeviceSuites, XENBUS_DEVICE, XENSTORED_SOCKET } from './lane-env.ts';

function message(type: number, reqId: number, txId: number, payload: string): Buffer {
  const body = Buffer.from(payload);
  const head = Buffer.alloc(16);
  head.writeUInt32LE(type, 0);
  head.writeUInt32LE(reqId, 4);
  head.writeUInt32LE(txId, 8);
  head.writeUInt32LE(body.length, 12);
  return Buffer.concat([head, body]);
}

interface Reply {
  type: number;
  reqId: number;
  txId: number;
  payload: string;
}

/** One whole reply from the device: a blocking read returns at least the header and its payload. */
function readReply(fd: number): Reply {
  const buf = Buffer.alloc(4096 + 16);
  let have = 0;
  while (have < 16 || have < 16 + buf.readUInt32LE(12)) {
    have += readSync(fd, buf, have, buf.length - have, null);
  }
  return {
    type: buf.readUInt32LE(0),
    reqId: buf.readUInt32LE(4),
    txId: buf.readUInt32LE(8),
    payload: buf.toString('utf8', 16, 16 + buf.readUInt32LE(12)),
  };
}

async function expectXsError(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(XsError);
  expect((error as XsError).code).toBe(code);
}

describe.skipIf(skipDeviceSuites)('xenbus device in a real Dom0 (raw bytes)', () => {
  let fd = -1;
  beforeAll(() => {
    fd = openSync(XENBUS_DEVICE, 'r+');
  });
  afterAll(() => {
    if (fd >= 0) closeSync(fd);
  });

  it('answers a whole XS_READ with the request id echoed', () => {
    writeSync(fd, message(XS.READ, 0x1234, 0, '/local/domain/0/name\0'));
    expect(readReply(fd)).toEqual({ type: XS.READ, reqId: 0x1234, txId: 0, payload: 'Domain-0' });
  });

  it('stores an XS_WRITE that a later XS_READ returns', () => {
    writeSync(fd, message(XS.WRITE, 7, 0, '/local/domain/0/data/raw\0raw value'));
    expect(readReply(fd)).toMatchObject({ type: XS.WRITE, reqId: 7, payload: 'OK\0' });
    writeSync(fd, message(XS.READ, 8, 0, '/local/domain/0/data/raw\0'));
    expect(readReply(fd)).toMatchObject({ type: XS.READ, reqId: 8, payload: 'raw value' });
  });

  it('reassembles a message written in two pieces', () => {
    const whole = message(XS.READ, 9, 0, '/local/domain/0/name\0');
    writeSync(fd, whole.subarray(0, 10));
    writeSync(fd, whole.subarray(10));
    expect(readReply(fd)).toMatchObject({ type: XS.READ, reqId: 9, payload: 'Domain-0' });
  });

  it('answers only the first of two messages written in one call', () => {
    const first = message(XS.READ, 10, 0, '/local/domain/0/name\0');
    const second = message(XS.READ, 11, 0, '/local/domain/0/domid\0');
    writeSync(fd, Buffer.concat([first, second]));
    expect(readReply(fd)).toMatchObject({ reqId: 10, payload: 'Domain-0' });
    // Had the second been queued, its reply would come before this one's.
    writeSync(fd, message(XS.READ, 12, 0, '/local/domain/0/domid\0'));
    expect(readReply(fd)).toMatchObject({ reqId: 12, payload: '0' });
  });

  it('carries xenstored errors as XS_ERROR replies', () => {
    writeSync(fd, message(XS.READ, 13, 0, '/local/domain/0/no-such-node\0'));
    expect(readReply(fd)).toEqual({ type: XS.ERROR, reqId: 13, txId: 0, payload: 'ENOENT\0' });
  });
});

describe.skipIf(skipDeviceSuites)('xenbus device and xenstored socket together', () => {
  let device: XsConnection;
  let socket: XsConnection;
  beforeAll(async () => {
    device = XsConnection.device(XENBUS_DEVICE);
    socket = await XsConnection.socket(XENSTORED_SOCKET);
  });
  afterAll(() => {
    device?.close();
    socket?.close();
  });

  it('sees the same store through both', async () => {
    await device.write('/local/domain/0/data/both', 'from the device');
    expect(await socket.read('/local/domain/0/data/both')).toBe('from the device');
    await socket.write('/local/domain/0/data/both', 'from the socket');
    expect(await device.read('/local/domain/0/data/both')).toBe('from the socket');
    expect(await socket.getDomainPath(0)).toBe('/local/domain/0');
    expect(await device.read('domid')).toBe('0');
  });

  it('delivers a watch on the device for a write through the socket', async () => {
    await device.watch('/local/domain/0/data/watched', 'dev-token');
    expect(await device.nextWatchEvent()).toEqual({
      path: '/local/domain/0/data/watched',
      token: 'dev-token',
    });
    await socket.write('/local/domain/0/data/watched/leaf', '1');
    expect(await device.nextWatchEvent()).toEqual({
      path: '/local/domain/0/data/watched/leaf',
      token: 'dev-token',
    });
    await device.unwatch('/local/domain/0/data/watched', 'dev-token');
  });

  it('isolates a device transaction until it commits, and fails it on a conflict', async () => {
    const tx = await device.transactionStart();
    await device.write('/local/domain/0/data/tx', 'inside', tx);
    await expectXsError(socket.read('/local/domain/0/data/tx'), 'ENOENT');
    await device.transactionEnd(tx, true);
    expect(await socket.read('/local/domain/0/data/tx')).toBe('inside');

    const conflicting = await device.transactionStart();
    await device.read('/local/domain/0/data/tx', conflicting);
    await socket.write('/local/domain/0/data/tx', 'outside');
    await device.write('/local/domain/0/data/tx', 'late', conflicting);
    await expectXsError(device.transactionEnd(conflicting, true), 'EAGAIN');
    expect(await device.read('/local/domain/0/data/tx')).toBe('outside');
  });

  it('reports round-trip times for XS_READ (informational)', async () => {
    const rounds = 200;
    const perOp: Record<string, number> = {};
    for (const [name, conn] of [
      ['device', device],
      ['socket', socket],
    ] as const) {
      const started = process.hrtime.bigint();
      for (let i = 0; i < rounds; i++) {
        expect(await conn.read('/local/domain/0/name')).toBe('Domain-0');
      }
      perOp[name] = Number(process.hrtime.bigint() - started) / 1e6 / rounds;
    }
    console.log(
      `xen-lane: XS_READ round trip in Dom0 (${rounds} each): device ${perOp.device?.toFixed(3)} ms, socket ${perOp.socket?.toFixed(3)} ms`,
    );
  });
});
