import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VchanLive, VchanNotify, VchanOffset } from '../../src/ring/index.ts';
import {
  chooseRingOrders,
  openVchanClient,
  openVchanServer,
  vchanPath,
} from '../../src/vchan/index.ts';
import {
  closed,
  exchange,
  openPair,
  type PairOptions,
  portState,
  type VchanHost,
  vchanHost,
} from './support/vchan-host.ts';

let env: VchanHost;
beforeEach(async () => {
  env = await vchanHost();
});
afterEach(async () => {
  await env.close();
});

/** A server in `serverDomid` and its client in `clientDomid`, connected. */
function pair(
  serverDomid = 0,
  clientDomid = 1,
  options: Omit<PairOptions, 'serverDomid' | 'clientDomid' | 'port'> = {},
) {
  return openPair(env, { serverDomid, clientDomid, port: 7, ...options });
}

describe('libxenvchan ring sizes', () => {
  it('picks the orders libxenvchan_server_init picks', () => {
    expect(chooseRingOrders(0, 0)).toEqual({ left: 10, right: 11 });
    expect(chooseRingOrders(1024, 2048)).toEqual({ left: 10, right: 11 });
    expect(chooseRingOrders(2048, 1024)).toEqual({ left: 11, right: 10 });
    expect(chooseRingOrders(2048, 2048)).toEqual({ left: 11, right: 12 });
    expect(chooseRingOrders(5000, 100)).toEqual({ left: 13, right: 11 });
    expect(chooseRingOrders(100, 5000)).toEqual({ left: 11, right: 13 });
    expect(chooseRingOrders(3000, 3000)).toEqual({ left: 12, right: 12 });
    expect(chooseRingOrders(2 ** 20, 2 ** 20)).toEqual({ left: 20, right: 20 });
    expect(() => chooseRingOrders(2 ** 20 + 1, 0)).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
  });
});

describe('libxenvchan server and client on the simulated host', () => {
  it("publishes ring-ref and event-channel as libxenvchan does: the server's, readable by the client", async () => {
    const { path, server, client } = await pair();
    const dom0 = env.clientOf(0);
    expect(path).toBe('/local/domain/0/data/vchan/1/7');
    expect(await dom0.directory(path)).toEqual(['ring-ref', 'event-channel']);
    for (const key of ['ring-ref', 'event-channel']) {
      expect(await dom0.getPermissions(`${path}/${key}`)).toEqual([
        { access: 'n', domid: 0 },
        { access: 'r', domid: 1 },
      ]);
    }
    // Another guest may not read them.
    await expect(env.clientOf(2).read(`${path}/ring-ref`)).rejects.toMatchObject({
      code: 'EACCES',
    });
    const ref = Number(await dom0.readString(`${path}/ring-ref`));
    const page = env.hv.grants.map(1, 0, ref);
    expect(page[VchanOffset.leftOrder]).toBe(10);
    expect(page[VchanOffset.rightOrder]).toBe(11);
    expect(page[VchanOffset.srvLive]).toBe(VchanLive.CONNECTED);
    expect(page[VchanOffset.cliLive]).toBe(VchanLive.CONNECTED);
    expect(page[VchanOffset.cliNotify]).toBe(VchanNotify.WRITE);
    expect(page[VchanOffset.srvNotify]).toBe(VchanNotify.WRITE);
    env.hv.grants.unmap(1, 0, ref);
    expect(server.connected && client.connected).toBe(true);
    expect(server.orders).toEqual({ left: 10, right: 11 });
    expect(client.orders).toEqual(server.orders);
    const done = [closed(server), closed(client)];
    server.destroy();
    client.destroy();
    expect(await Promise.all(done)).toEqual([undefined, undefined]);
  });

  it('carries data both ways and closes cleanly: pages, ports and nodes given back', async () => {
    const { path, server, client } = await pair(0, 1, { leftMin: 5000, rightMin: 70_000 });
    expect(server.orders).toEqual({ left: 13, right: 17 });
    const up = Buffer.alloc(300_000, 'u');
    const down = Buffer.alloc(200_000, 'd');
    const [atServer, atClient] = await Promise.all([
      exchange(server, [up.subarray(0, 0), down], up.length),
      exchange(client, [up], down.length),
    ]);
    expect(atServer.equals(up)).toBe(true);
    expect(atClient.equals(down)).toBe(true);
    const serverPort = Number(await env.clientOf(0).readString(`${path}/event-channel`));
    const serverClosed = closed(server);
    const clientClosed = closed(client);
    server.end();
    expect(await serverClosed).toBeUndefined();
    expect(await clientClosed).toBeUndefined();
    expect(await env.clientOf(0).exists(path)).toBe(false);
    // Nothing of the vchan is left: no grant of dom0 to domain 1, no port bound.
    expect(() => env.hv.grants.map(1, 0, 8)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(portState(env.hv, 0, serverPort)).toBe('closed');
  });

  it('a client that closes first: the server reads what was sent, then the end; its writes fail', async () => {
    const { server, client } = await pair(1, 0);
    expect(server.path).toBe('/local/domain/1/data/vchan/0/7');
    const clientClosed = closed(client);
    client.resume();
    client.end('last words');
    expect(await clientClosed).toBeUndefined();
    const chunks: Buffer[] = [];
    server.on('data', (chunk: Buffer) => chunks.push(chunk));
    // With allowHalfOpen false the server closes too once it has read the end...
    const serverClosed = closed(server);
    await once(server, 'end');
    expect(Buffer.concat(chunks).toString()).toBe('last words');
    expect(await serverClosed).toBeUndefined();
  });

  it('refuses a write once the peer has closed (EPIPE), like libxenvchan_write', async () => {
    // allowHalfOpen keeps the server's writable side open past the client's close.
    const { server, client } = await pair(0, 1, { stream: { allowHalfOpen: true } });
    const serverClosed = closed(server);
    const clientClosed = closed(client);
    client.resume();
    client.end();
    expect(await clientClosed).toBeUndefined();
    server.resume();
    await once(server, 'end');
    server.write('too late');
    expect(await serverClosed).toMatchObject({ code: 'EPIPE' });
  });

  it('a client finds no server (ENOENT), waits for one, gives up (ETIMEDOUT) or sees its domain go (ESRCH)', async () => {
    const path = vchanPath(2, 1, 3);
    const options = { client: env.clientOf(1), platform: env.platformOf(1), peerDomid: 2, path };
    await expect(openVchanClient(options)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(openVchanClient({ ...options, timeoutMs: 50 })).rejects.toMatchObject({
      code: 'ETIMEDOUT',
    });
    // Published while the client waits: it connects.
    const waiting = openVchanClient({ ...options, timeoutMs: 10_000 });
    const server = await openVchanServer({
      client: env.clientOf(2),
      platform: env.platformOf(2),
      peerDomid: 1,
      path,
    });
    const client = await waiting;
    expect(client.connected).toBe(true);
    const done = [closed(server), closed(client)];
    client.resume();
    server.resume();
    client.end();
    expect(await Promise.all(done)).toEqual([undefined, undefined]);
    // A server domain that dies while the client waits ends the wait.
    const doomed = openVchanClient({ ...options, timeoutMs: 10_000 });
    await env.host.destroyDomain(2);
    await expect(doomed).rejects.toMatchObject({ code: 'ESRCH' });
  });

  it("refuses a server's malformed page (EPROTO) and gives back what it took", async () => {
    const path = vchanPath(2, 1, 4);
    const serverPlatform = env.platformOf(2);
    const port = serverPlatform.eventChannel.bindUnboundPort(1);
    const page = serverPlatform.grantPages(1, 1);
    const view = new DataView(page.pages[0]!.buffer, page.pages[0]!.byteOffset, 4096);
    view.setUint16(VchanOffset.leftOrder, 20, true); // 256 grants would run into…
    view.setUint16(VchanOffset.rightOrder, 10, true); // …the ring at 1024
    const dom2 = env.clientOf(2);
    const readable = [
      { access: 'n', domid: 2 },
      { access: 'r', domid: 1 },
    ] as const;
    for (const [key, value] of [
      ['ring-ref', page.refs[0]],
      ['event-channel', port],
    ] as const) {
      await dom2.write(`${path}/${key}`, String(value));
      await dom2.setPermissions(`${path}/${key}`, [...readable]);
    }
    const client = openVchanClient({
      client: env.clientOf(1),
      platform: env.platformOf(1),
      peerDomid: 2,
      path,
    });
    await expect(client).rejects.toMatchObject({ code: 'EPROTO' });
    // The client unbound its port (ours is unbound again) and unmapped the page.
    expect(env.hv.status(2, port).state).toBe('unbound');
    expect(() => env.hv.grants.endAccess(2, page.refs[0]!)).not.toThrow();
    for (const bad of ['0', 'x1', '']) {
      await dom2.write(`${path}/ring-ref`, bad);
      await expect(
        openVchanClient({
          client: env.clientOf(1),
          platform: env.platformOf(1),
          peerDomid: 2,
          path,
        }),
      ).rejects.toMatchObject({ code: 'EPROTO' });
    }
  });
});
