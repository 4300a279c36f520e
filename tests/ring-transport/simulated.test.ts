import { afterEach, describe, expect, it } from 'vitest';
import { createSimulatedHost, type SimulatedHost } from '../../src/host/index.ts';
import { XenstoreErrorIndicator, XenstoreRing } from '../../src/ring/xenstore.ts';
import { XenstoreClient } from '../../src/xenstore/client.ts';
import { XenstoreError } from '../../src/xenstore/errors.ts';
import { ringConnector } from '../../src/xenstore/transport/ring.ts';

/** The arguments of the client's next `event`. */
function once<E extends 'close' | 'reconnect'>(client: XenstoreClient, event: E) {
  return new Promise<Parameters<Parameters<typeof client.once<E>>[1]>>((resolve) =>
    client.once(event, (...args) => resolve(args)),
  );
}

/**
 * The guest ring transport and the ring server together, on the simulated hypervisor: every
 * byte between a guest's client and xenstored crosses the 1024-byte rings of its page, and every
 * wake-up is an event-channel notification.
 */
describe('xenstore over a ring page', () => {
  let host: SimulatedHost;
  afterEach(async () => {
    await host?.close();
  });

  it('carries messages longer than the ring, in both directions, many in flight', async () => {
    host = await createSimulatedHost({ guests: 1 });
    const xs = host.guest(1).client;
    // 40 requests of 1.5 KB at once: the request ring (1 KB) is full most of the time, and each
    // message crosses the ring's end at a different offset.
    const values = Array.from({ length: 40 }, (_, i) =>
      String.fromCharCode(65 + (i % 26)).repeat(1500 + i),
    );
    await Promise.all(values.map((value, i) => xs.write(`v${i}`, value)));
    const read = await Promise.all(values.map((_, i) => xs.readString(`v${i}`)));
    expect(read).toEqual(values);
    // The largest reply a guest can get: 2 KB node limit, so read a value dom0 wrote.
    const big = 'z'.repeat(4000);
    await host.dom0Client.write('/local/domain/1/big', big);
    await host.dom0Client.setPermissions('/local/domain/1/big', [{ access: 'r', domid: 1 }]);
    expect(await xs.readString('big')).toBe(big);
  });

  it('multiplexes requests, watches and transactions on one ring', async () => {
    host = await createSimulatedHost({ guests: 1 });
    const xs = host.guest(1).client;
    const watch = await xs.watch('/local/domain/1/w');
    const events = watch[Symbol.asyncIterator]();
    expect((await events.next()).value).toMatchObject({ path: '/local/domain/1/w' });
    await host.dom0Client.write('/local/domain/1/w/x', '1');
    expect((await events.next()).value).toMatchObject({ path: '/local/domain/1/w/x' });

    await xs.transaction(async (tx) => {
      await tx.write('/local/domain/1/t/a', 'A');
      await tx.write('/local/domain/1/t/b', 'B');
    });
    expect(await xs.directory('t')).toEqual(['a', 'b']);
    const [dir, perms, path] = await Promise.all([
      xs.directory('/local/domain/1'),
      xs.getPermissions('t'),
      xs.getDomainPath(1),
    ]);
    // The toolstack's nodes (as libxl writes them) come first.
    expect(dir).toEqual(['domid', 'console', 'w', 't']);
    expect(perms).toEqual([{ access: 'n', domid: 1 }]);
    expect(path).toBe('/local/domain/1');
    await watch.close();
  });

  it("applies the ring's domain: privileged requests refused, quotas enforced", async () => {
    host = await createSimulatedHost({ guests: 1, server: { quotas: { nodes: 5 } } });
    const xs = host.guest(1).client;
    await expect(xs.introduceDomain(9, 1, 1)).rejects.toMatchObject({ code: 'EACCES' });
    await expect(xs.read('/tool')).rejects.toMatchObject({ code: 'EACCES' });
    const writes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => xs.write(`n${i}`, '')),
    );
    const refused = writes.filter((w) => w.status === 'rejected');
    expect(refused.length).toBeGreaterThan(0);
    for (const w of refused)
      expect((w as PromiseRejectedResult).reason).toMatchObject({ code: 'ENOSPC' });
  });

  it('flags an oversize message in the page, stops that ring only, and serves it again after a reconnection', async () => {
    host = await createSimulatedHost({ guests: 2 });
    const victim = host.guest(1);
    const lost = once(victim.client, 'close');
    // A hostile guest kernel: a header announcing 5000 payload bytes.
    const header = new Uint8Array(16);
    new DataView(header.buffer).setUint32(12, 5000, true);
    const raw = new XenstoreRing('guest', victim.page.buffer, {
      byteOffset: victim.page.byteOffset,
      notify: () => victim.eventChannel.notify(victim.port),
    });
    raw.write(header);
    const [reason] = (await lost) as [XenstoreError];
    expect(reason).toBeInstanceOf(XenstoreError);
    expect(reason.code).toBe('EPROTO');
    expect((reason.cause as XenstoreError).code).toBe('EPROTO');
    expect(raw.error).toBe(XenstoreErrorIndicator.PROTO);
    expect(host.rings.failure(1)).toMatchObject({ code: 'EPROTO' });
    // Another guest is unaffected.
    expect(await host.guest(2).client.getDomainPath(2)).toBe('/local/domain/2');
    // The reconnection handshake resets the page and the guest is served again.
    const again = await XenstoreClient.connect({
      transport: ringConnector({
        page: victim.page,
        eventChannel: victim.eventChannel,
        port: victim.port,
      }),
    });
    expect(raw.error).toBe(XenstoreErrorIndicator.NONE);
    await again.write('after', 'ok');
    expect(await host.dom0Client.readString('/local/domain/1/after')).toBe('ok');
    await again.close();
  });

  it('re-registers watches over a fresh ring when the client reconnects', async () => {
    host = await createSimulatedHost({ guests: 0 });
    const guest = await host.addGuest(undefined, { reconnect: { initialDelay: 1 } });
    const xs = guest.client;
    const watch = await xs.watch('/local/domain/1/r');
    const events = watch[Symbol.asyncIterator]();
    await events.next();
    const reconnected = once(xs, 'reconnect');
    const raw = new XenstoreRing('guest', guest.page.buffer, {
      byteOffset: guest.page.byteOffset,
      notify: () => guest.eventChannel.notify(guest.port),
    });
    const header = new Uint8Array(16);
    new DataView(header.buffer).setUint32(12, 0xffff_ffff, true);
    raw.write(header);
    expect(await reconnected).toEqual([{ lostTransactions: 0, watches: 1 }]);
    expect((await events.next()).value).toMatchObject({ path: '/local/domain/1/r' });
    await host.dom0Client.write('/local/domain/1/r', 'x');
    expect((await events.next()).value).toMatchObject({ path: '/local/domain/1/r' });
    // The old connection's state went with the reset: one connection per guest remains.
    expect(host.server.connectionCount).toBe(2);
  });

  it('stops serving on RELEASE and on domain destruction, firing @releaseDomain', async () => {
    host = await createSimulatedHost({ guests: 3 });
    const dom0 = host.dom0Client;
    await host.guest(3).client.write('mine', 'x');
    const watch = await dom0.watch('@releaseDomain');
    const events = watch[Symbol.asyncIterator]();
    await events.next();
    expect(host.rings.domids).toEqual([1, 2, 3]);

    await dom0.releaseDomain(2);
    expect((await events.next()).value).toMatchObject({ path: '@releaseDomain' });
    expect(host.rings.domids).toEqual([1, 3]);

    await host.destroyDomain(3);
    expect((await events.next()).value).toMatchObject({ path: '@releaseDomain' });
    expect(host.rings.domids).toEqual([1]);
    expect(await dom0.isDomainIntroduced(3)).toBe(false);
    await expect(dom0.read('/local/domain/3/mine')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await host.guest(1).client.getDomainPath(1)).toBe('/local/domain/1');
    await watch.close();
  });
});
