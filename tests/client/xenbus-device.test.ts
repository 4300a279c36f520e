import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { XenstoreClient } from '../../src/xenstore/client.ts';
import { XenstoreServer } from '../../src/xenstore/server.ts';
import { xenbusDeviceConnector } from '../../src/xenstore/transport/xenbus-device.ts';
import type { Message } from '../../src/xenstore/wire.ts';
import { rejection, until } from './expectations.ts';
import { FakeXenbusDevice } from './fake-xenbus-device.ts';

const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('xenbus device transport', () => {
  it('writes one message per call, keeps one read outstanding and releases the fd on close', async () => {
    const device = new FakeXenbusDevice(new XenstoreServer());
    const xs = await XenstoreClient.connect({ transport: xenbusDeviceConnector('/dev/x', device) });
    await Promise.all(Array.from({ length: 50 }, (_, i) => xs.write(`/d/${i}`, String(i))));
    expect(await xs.readString('/d/7')).toBe('7');
    await xs.close();
    await until(() => device.closedFds === 1);
    expect(device.openFds).toBe(0);
    expect(device.violations).toEqual([]);
  });

  it('keeps requests intact under load: 200 concurrent writes, then 1,000 in flight', async () => {
    const device = new FakeXenbusDevice(new XenstoreServer());
    const xs = await XenstoreClient.connect({ transport: xenbusDeviceConnector('/dev/x', device) });
    const values = Array.from({ length: 200 }, (_, i) => `value-${i}-${'x'.repeat(i % 37)}`);
    await Promise.all(values.map((value, i) => xs.write(`/d/child-with-a-long-name-${i}`, value)));
    expect((await xs.directory('/d')).length).toBe(200);
    const watch = await xs.watch('/w');
    const requests: Promise<unknown>[] = [];
    for (let i = 0; i < 1000; i++) {
      const k = i % 200;
      requests.push(
        i % 2 === 0
          ? xs.readString(`/d/child-with-a-long-name-${k}`)
          : xs.write(`/w/${i}`, String(i)).then(() => values[k]),
      );
    }
    // A watch registered behind unanswered requests would deadlock the real kernel.
    const late = await xs.watch('/w/1');
    const results = await Promise.all(requests);
    expect(results).toEqual(Array.from({ length: 1000 }, (_, i) => values[i % 200]));
    await watch.close();
    await late.close();
    await xs.close();
    await until(() => device.closedFds === 1);
    expect(device.violations).toEqual([]);
  });

  it('answers E2BIG itself for a message larger than the device takes, and carries on', async () => {
    const device = new FakeXenbusDevice(new XenstoreServer());
    const xs = await XenstoreClient.connect({ transport: xenbusDeviceConnector('/dev/x', device) });
    // '/big\0' and the value: 4080 bytes of payload fill the kernel's 4096-byte buffer.
    const fits = xs.write('/big', Buffer.alloc(4075, 0x61));
    const tooBig = xs.write('/big', Buffer.alloc(4076, 0x62));
    const after = xs.write('/after', 'x');
    await fits;
    expect((await rejection(tooBig)).code).toBe('E2BIG');
    await after;
    expect((await xs.read('/big')).length).toBe(4075);
    await xs.close();
    expect(device.violations).toEqual([]);
  });

  it('wakes its own blocked read on close (a FIFO stands in for the device)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xenwire-fifo-'));
    const fifo = join(dir, 'xenbus');
    execFileSync('mkfifo', [fifo]);
    try {
      const before = openFds();
      const received: Message[] = [];
      let closed = false;
      const transport = await xenbusDeviceConnector(fifo)({
        onMessage: (message) => received.push(message),
        onClose: () => {
          closed = true;
        },
      });
      expect(openFds()).toBe(before + 1);
      // The FIFO loops writes back: the read in the threadpool sees what was sent.
      transport.send({ type: 2, reqId: 9, txId: 0, payload: Buffer.from('/x\0') });
      await until(() => received.length === 1);
      expect(received[0]).toMatchObject({ type: 2, reqId: 9 });
      transport.close();
      expect(closed).toBe(true);
      await until(() => openFds() === before);
      expect(received.length).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails to connect with ENOENT naming the device', async () => {
    await expect(
      XenstoreClient.connect({ transport: xenbusDeviceConnector('/nonexistent/xenbus') }),
    ).rejects.toMatchObject({ code: 'ENOENT', message: /\/nonexistent\/xenbus: ENOENT/ });
  });
});
