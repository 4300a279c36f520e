/**
 * The ring transport and the ring server against Xen's own C xenstored 4.17 (under the harness's
 * shim, harness/README.md): pages are files both sides map, event channels are datagram
 * sockets. Needs the harness and the native addon; missing locally they skip loudly, under
 * CI=true the file fails.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapFile, unmap } from '../../src/device/index.ts';
import { SocketEventChannel } from '../../src/evtchn/index.ts';
import { XenstoreClient } from '../../src/xenstore/client.ts';
import { ringConnector } from '../../src/xenstore/transport/ring.ts';
import { type RealXenstored, startRealXenstored, xenInstall } from '../support/real-xenstored.ts';
import { nativeAddonReady } from '../support/requirements.ts';
import { type RawExchange, RawRingGuest } from './support/raw-guest.ts';
import { mockRingTarget, type RingTarget, realRingTarget } from './support/ring-targets.ts';
import {
  clientScript,
  destructionScript,
  nextTxId,
  rawRequest,
  rawScript,
} from './support/scripts.ts';

const ready = nativeAddonReady() && xenInstall !== undefined;
const GUEST = 5;

describe.skipIf(!ready)('ring transport as dom0 kernel of the C xenstored (xsd_kva)', () => {
  let daemon: RealXenstored;
  let eventChannel: SocketEventChannel;
  let page: ArrayBuffer;
  let xs: XenstoreClient;

  beforeAll(async () => {
    daemon = await startRealXenstored(xenInstall!);
    eventChannel = SocketEventChannel.open({
      localPath: join(daemon.rundir, 'dom0.evtchn'),
      peerPath: join(daemon.rundir, 'evtchn.sock'),
    });
    // xsd_port: dom0's end of the channel is port 1, the same number at both ends.
    const port = eventChannel.bindInterdomain(0, 1);
    page = mapFile(join(daemon.rundir, 'xsd_kva'), { length: 4096 });
    xs = await XenstoreClient.connect({
      transport: ringConnector({ page: new Uint8Array(page), eventChannel, port }),
    });
  });
  afterAll(async () => {
    await xs?.close();
    eventChannel?.close();
    if (page) unmap(page);
    await daemon?.stop();
  });

  it('reads, writes, lists, watches and commits as the privileged domain', async () => {
    await xs.write('/r/a', 'A');
    await xs.write('/r/long', 'L'.repeat(3000));
    expect(await xs.readString('/r/a')).toBe('A');
    expect(await xs.readString('/r/long')).toBe('L'.repeat(3000));
    expect(await xs.directory('/r')).toEqual(['a', 'long']);
    expect(await xs.directory('/tool')).toEqual(['xenstored']);
    // Privileged requests are allowed on dom0's ring.
    expect(await xs.isDomainIntroduced(0)).toBe(true);
    const watch = await xs.watch('/r');
    const events = watch[Symbol.asyncIterator]();
    expect((await events.next()).value).toMatchObject({ path: '/r' });
    await xs.transaction(async (tx) => {
      await tx.write('/r/t', 'T');
    });
    expect((await events.next()).value).toMatchObject({ path: '/r/t' });
    // The same store as the socket's.
    const viaSocket = await XenstoreClient.connect({ socketPath: daemon.socketPath });
    expect(await viaSocket.readString('/r/t')).toBe('T');
    await viaSocket.close();
    // Many requests in flight at once.
    const many = await Promise.all(Array.from({ length: 50 }, () => xs.readString('/r/a')));
    expect(new Set(many)).toEqual(new Set(['A']));
    await watch.close();
  });
});

describe.skipIf(!ready)('a guest domain on the C xenstored and on the in-memory one', () => {
  const targets: RingTarget[] = [];
  afterAll(async () => {
    for (const target of targets) await target.stop();
  });

  it('gives the same outcomes through the client API over the ring, and at its destruction', async () => {
    const real = await realRingTarget(xenInstall!, GUEST);
    targets.push(real);
    const mock = await mockRingTarget(GUEST);
    targets.push(mock);
    const expected = await clientScript(real);
    expect(await clientScript(mock)).toEqual(expected);
    // Then the domain dies: VIRQ_DOM_EXC, and dom0 sees the same on both.
    const released = await destructionScript(real);
    expect(await destructionScript(mock)).toEqual(released);
    expect(released).toEqual([
      'registered: @releaseDomain',
      'fired: @releaseDomain',
      'introduced → false',
      'home ✗ ENOENT',
    ]);
    // The script reached what it is meant to reach on the real daemon.
    expect(expected).toContain('read /tool ✗ EACCES');
    expect(expected).toContain('too big ✗ ENOSPC');
    expect(expected.find((line) => line.startsWith('watches:'))).toMatch(/E2BIG/);
    expect(expected.find((line) => line.startsWith('transactions:'))).toMatch(/ENOSPC/);
    expect(expected.find((line) => line.startsWith('nodes:'))).toMatch(/ENOSPC/);
  }, 60_000);

  it('puts the same bytes in the response ring and leaves the page in the same state', async () => {
    const runs: RawExchange[][] = [];
    for (const make of [realRingTarget.bind(null, xenInstall!), mockRingTarget]) {
      const target = await make(GUEST + 1);
      targets.push(target);
      const guest = new RawRingGuest(target.page, target.eventChannel, target.port);
      const exchanges: RawExchange[] = [];
      let txId = 0;
      for (const [index, step] of rawScript(GUEST + 1).entries()) {
        const { request, txId: tx } = step(txId);
        const trailingEvents = request.op === 'WATCH' ? 1 : 0;
        const exchange = await guest.exchange(
          rawRequest(request, index, tx),
          index + 1,
          trailingEvents,
        );
        exchanges.push(exchange);
        txId = nextTxId(exchange.messages.at(-1), txId);
      }
      guest.close();
      runs.push(exchanges);
    }
    const [real, mock] = runs as [RawExchange[], RawExchange[]];
    for (const [i, exchange] of real.entries()) {
      expect(mock[i]!.response.toString('hex'), `step ${i + 1}`).toBe(
        exchange.response.toString('hex'),
      );
      expect(mock[i]!.words, `page words after step ${i + 1}`).toEqual(exchange.words);
    }
    // The guest waits for nothing but notifications, so finishing the script shows that both
    // woke it whenever it had to wait. The counts differ by design (C notifies after every read
    // and write of the ring, the in-memory server only when the guest may be asleep, and a
    // reply already there costs no wait) and are shown, not compared.
    const kicks = (run: RawExchange[]) => run.map((e) => e.kicks).join(',');
    console.info(`notifications waited for per step: C ${kicks(real)}; in-memory ${kicks(mock)}`);
    // The in-memory server runs on this thread, so no reply can be there before the guest first
    // looks: each one was announced by a notification.
    for (const exchange of mock) expect(exchange.kicks).toBeGreaterThan(0);
  }, 60_000);
});
