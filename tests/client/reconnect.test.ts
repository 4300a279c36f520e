import { afterAll, describe, expect, it } from 'vitest';
import type { ReconnectInfo } from '../../src/xenstore/client.ts';
import { XenstoreClient } from '../../src/xenstore/client.ts';
import { socketConnector } from '../../src/xenstore/transport/socket.ts';
import type { TransportConnector } from '../../src/xenstore/transport/transport.ts';
import { type RealXenstored, startRealXenstored, xenInstall } from '../support/real-xenstored.ts';
import { rejection } from './expectations.ts';

describe.skipIf(!xenInstall)('reconnecting to a restarted C xenstored', () => {
  const daemons: RealXenstored[] = [];
  afterAll(async () => {
    await Promise.all(daemons.map((daemon) => daemon.stop()));
  });

  it('re-registers watches on the new daemon and reports the lost transaction', async () => {
    const start = async () => {
      const daemon = await startRealXenstored(xenInstall!);
      daemons.push(daemon);
      return daemon;
    };
    let current = await start();
    // Each connect goes to whichever daemon is current.
    const connector: TransportConnector = (handlers) =>
      socketConnector(current.socketPath)(handlers);
    const xs = await XenstoreClient.connect({
      transport: connector,
      reconnect: { initialDelay: 5 },
    });
    const watch = await xs.watch('/restart');
    const events = watch[Symbol.asyncIterator]();
    expect((await events.next()).value?.path).toBe('/restart');
    const tx = await xs.transactionStart();

    const reconnected = new Promise<ReconnectInfo>((resolve) => xs.once('reconnect', resolve));
    const disconnected = new Promise<Error>((resolve) => xs.once('disconnect', resolve));
    const old = current;
    current = await start();
    await old.stop();
    expect((await disconnected).message).toMatch(/connection/);
    expect(await reconnected).toEqual({ lostTransactions: 1, watches: 1 });

    expect((await rejection(tx.read('/restart'))).code).toBe('ECONNRESET');
    expect((await events.next()).value?.path).toBe('/restart');
    await xs.write('/restart/after', 'yes');
    expect((await events.next()).value?.path).toBe('/restart/after');
    expect(await xs.readString('/restart/after')).toBe('yes');
    await xs.close();
  });
});
