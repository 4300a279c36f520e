import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedHypervisor } from '../../src/evtchn/index.ts';
import { grantPageMapper } from '../../src/host/index.ts';
import {
  XenstoreErrorIndicator,
  XenstoreFeature,
  XenstoreOffset,
  XenstoreRing,
} from '../../src/ring/xenstore.ts';
import { XenstoreClient } from '../../src/xenstore/client.ts';
import { XenstoreRingServer, XenstoreServer } from '../../src/xenstore/server.ts';
import { ringConnector } from '../../src/xenstore/transport/ring.ts';

/**
 * Edges of the ring transport and the ring server that the simulated host does not reach on its
 * own: indices about to wrap at 2^32, and pages or peers in states no honest end leaves them.
 */
describe('ring transport and ring server edges', () => {
  const DOMID = 1;
  let hv: SimulatedHypervisor;
  let server: XenstoreServer;
  let rings: XenstoreRingServer;
  let page: Uint8Array;
  let guestEvents: ReturnType<SimulatedHypervisor['openEventChannel']>;
  let port: number;
  let clients: XenstoreClient[];

  /** Creates and introduces the guest; its ring server advertises `features`. */
  function introduce(features: number): void {
    rings = new XenstoreRingServer(server, {
      mapper: grantPageMapper(hv),
      eventChannel: hv.openEventChannel(0),
      features,
    });
    hv.createDomain(DOMID);
    const grant = hv.grants.grantAccess(DOMID, 0);
    page = grant.page;
    guestEvents = hv.openEventChannel(DOMID);
    port = guestEvents.bindUnboundPort(0);
    server.introduceDomain(DOMID, grant.ref, port);
  }

  async function connect(reconnect?: boolean): Promise<XenstoreClient> {
    const client = await XenstoreClient.connect({
      transport: ringConnector({ page, eventChannel: guestEvents, port, reconnect }),
    });
    clients.push(client);
    return client;
  }

  /** The server's view of the page, for putting it in states only a broken peer would. */
  const serverEnd = () => new XenstoreRing('server', page.buffer, { byteOffset: page.byteOffset });
  const closed = (client: XenstoreClient) =>
    new Promise<Error | undefined>((resolve) => client.once('close', resolve));

  beforeEach(() => {
    hv = SimulatedHypervisor.create();
    server = new XenstoreServer();
    clients = [];
  });
  afterEach(async () => {
    for (const client of clients) await client.close();
    rings?.close();
    server.close();
  });

  it('keeps messages whole across the wrap of the indices at 2^32', async () => {
    // Privileged, so it may write anywhere without a toolstack setting up its home.
    server = new XenstoreServer({ privilegedDomid: DOMID });
    introduce(0);
    // The page is quiet: start both rings just short of 2^32.
    serverEnd().requests.reset(2 ** 32 - 700);
    serverEnd().responses.reset(2 ** 32 - 300);
    const xs = await connect();
    const home = `/local/domain/${DOMID}`;
    const values = ['a', 'b', 'c'].map((c) => c.repeat(1500));
    for (const [i, value] of values.entries()) await xs.write(`${home}/v${i}`, value);
    expect(await Promise.all(values.map((_, i) => xs.readString(`${home}/v${i}`)))).toEqual(values);
    // Both producers went past 2^32 and wrapped.
    expect(serverEnd().requests.prod).toBeLessThan(2 ** 31);
    expect(serverEnd().responses.prod).toBeLessThan(2 ** 31);
  });

  it('takes what an earlier connection left in the response ring for strays, not replies', async () => {
    server = new XenstoreServer({ privilegedDomid: DOMID });
    introduce(0);
    const first = await connect();
    await first.write('/v', 'fresh');
    await first.close();
    // A reply the first connection never read, whose id the next client will use too.
    const stale = new Uint8Array(16 + 5);
    const view = new DataView(stale.buffer);
    view.setUint32(0, 2, true); // READ
    view.setUint32(4, 1, true);
    view.setUint32(12, 5, true);
    stale.set(new TextEncoder().encode('stale'), 16);
    serverEnd().write(stale);
    const second = await connect();
    expect(await second.readString('/v')).toBe('fresh');
  });

  it('closes with EPROTO when the server leaves impossible response indices', async () => {
    introduce(0);
    const xs = await connect();
    await xs.getDomainPath(DOMID);
    const lost = closed(xs);
    // A broken server: 5000 bytes claimed in a 1024-byte ring.
    const words = new Uint32Array(page.buffer, page.byteOffset, 1024);
    Atomics.store(words, XenstoreOffset.rspProd / 4, serverEnd().responses.cons + 5000);
    hv.send(0, remotePort()); // as the server's notification
    const reason = await lost;
    expect(reason?.cause).toMatchObject({ code: 'EPROTO' });
  });

  it('gives up the reconnection handshake when aborted, if the server never completes it', async () => {
    // A page that offers RECONNECTION but that no server serves.
    const buffer = new SharedArrayBuffer(4096);
    XenstoreRing.initialise(buffer, XenstoreFeature.RECONNECTION);
    const eventChannel = hv.openEventChannel(0);
    const unserved = eventChannel.bindUnboundPort(0);
    const abort = new AbortController();
    const connecting = XenstoreClient.connect({
      transport: ringConnector({
        page: new Uint8Array(buffer),
        eventChannel,
        port: unserved,
        signal: abort.signal,
      }),
    });
    abort.abort();
    await expect(connecting).rejects.toMatchObject({ code: 'ABORT_ERR' });
    eventChannel.close();
  });

  it('refuses to connect to a page whose server reports an error and cannot reconnect', async () => {
    introduce(XenstoreFeature.ERROR);
    serverEnd().setError(XenstoreErrorIndicator.COMM);
    await expect(connect()).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('flags indices a guest corrupted (RINGIDX) and keeps serving others', async () => {
    introduce(XenstoreFeature.ERROR | XenstoreFeature.RECONNECTION);
    const xs = await connect();
    const lost = closed(xs);
    const words = new Uint32Array(page.buffer, page.byteOffset, 1024);
    Atomics.store(words, XenstoreOffset.reqProd / 4, serverEnd().requests.cons + 4000);
    guestEvents.notify(port);
    expect((await lost)?.cause).toMatchObject({ code: 'EPROTO' });
    expect(serverEnd().error).toBe(XenstoreErrorIndicator.RINGIDX);
    expect(rings.failure(DOMID)).toMatchObject({ code: 'EPROTO' });
    // Reconnecting resets the page, and the guest is served again.
    const again = await connect();
    expect(await again.getDomainPath(DOMID)).toBe(`/local/domain/${DOMID}`);
  });

  it('re-binds the event channel when a served domain is introduced again, as after resume', async () => {
    introduce(XenstoreFeature.RECONNECTION);
    const before = await connect();
    expect(await before.getDomainPath(DOMID)).toBe(`/local/domain/${DOMID}`);
    await before.close();
    // A resumed guest comes back with a new channel; the toolstack introduces it again.
    const grantRef = server.domains.get(DOMID)!.gfn;
    const oldPort = port;
    port = guestEvents.bindUnboundPort(0);
    server.introduceDomain(DOMID, grantRef, port);
    expect(hv.status(DOMID, port).state).toBe('interdomain');
    // xenstored let go of the old channel: the guest's end of it is unbound again.
    expect(hv.status(DOMID, oldPort).state).toBe('unbound');
    const after = await connect();
    expect(await after.getDomainPath(DOMID)).toBe(`/local/domain/${DOMID}`);
    expect(rings.domids).toEqual([DOMID]);
  });

  it('stops serving a domain introduced again with a channel it cannot bind, and says why', () => {
    const errors: [number, Error][] = [];
    const unmapped: number[] = [];
    const mapper = grantPageMapper(hv);
    rings = new XenstoreRingServer(server, {
      mapper: {
        map: (domid, gfn) => mapper.map(domid, gfn),
        unmap: (domid, gfn, mapped) => {
          unmapped.push(domid);
          mapper.unmap(domid, gfn, mapped);
        },
      },
      eventChannel: hv.openEventChannel(0),
      onError: (domid, error) => errors.push([domid, error]),
    });
    hv.createDomain(DOMID);
    const grant = hv.grants.grantAccess(DOMID, 0);
    guestEvents = hv.openEventChannel(DOMID);
    port = guestEvents.bindUnboundPort(0);
    server.introduceDomain(DOMID, grant.ref, port);
    expect(rings.domids).toEqual([DOMID]);
    // No such port of the guest's: the bind fails.
    server.introduceDomain(DOMID, grant.ref, 999);
    expect(rings.domids).toEqual([]);
    expect(unmapped).toEqual([DOMID]);
    expect(errors).toHaveLength(1);
    expect(errors[0]![0]).toBe(DOMID);
  });

  /** xenstored's end of the guest's channel. */
  function remotePort(): number {
    const status = hv.status(DOMID, port);
    if (status.state !== 'interdomain') throw new Error('not connected');
    return status.remotePort;
  }
});
