import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedHypervisor } from '../../src/evtchn/index.ts';
import {
  createDevice,
  type DevicePlatform,
  openVchanBackend,
  openVchanFrontend,
  simulatedPlatform,
  XenbusState,
} from '../../src/xenbus/index.ts';
import { socketConnector, XenstoreClient } from '../../src/xenstore/index.ts';
import { type RealXenstored, startRealXenstored, xenInstall } from '../support/real-xenstored.ts';
import { receiveAll, sendRandom } from './support/streams.ts';

const MB = 1024 * 1024;
/** The frontend's domain: made to exist for the daemon (its permissions name it). */
const FRONTEND = 1;

/**
 * The vchan device with Xen's own C xenstored (4.17, under the harness's shim) carrying the
 * handshake; grants and event channels come from the simulated hypervisor. Both ends talk to
 * the daemon over its socket as dom0 connections, the frontend acting for domain 1.
 */
describe.skipIf(!xenInstall)('the vchan device over the real C xenstored', () => {
  let daemon: RealXenstored;
  let hv: SimulatedHypervisor;
  const clients: XenstoreClient[] = [];
  const platforms: DevicePlatform[] = [];

  beforeAll(async () => {
    daemon = await startRealXenstored(xenInstall as NonNullable<typeof xenInstall>);
    await daemon.createGuest(FRONTEND, 101);
    hv = SimulatedHypervisor.create();
    hv.createDomain(FRONTEND);
  });
  afterAll(async () => {
    for (const client of clients) await client.close();
    for (const platform of platforms) platform.close();
    await daemon?.stop();
  });

  async function connect(): Promise<XenstoreClient> {
    const client = await XenstoreClient.connect({ transport: socketConnector(daemon.socketPath) });
    clients.push(client);
    return client;
  }

  function platform(domid: number): DevicePlatform {
    const made = simulatedPlatform(hv, domid);
    platforms.push(made);
    return made;
  }

  it('connects, carries 10 MiB each way with matching hashes, and closes', async () => {
    const [toolstack, front, back] = await Promise.all([connect(), connect(), connect()]);
    const id = { type: 'vchan', frontendDomid: FRONTEND, backendDomid: 0, devid: 3 };
    const paths = await createDevice(toolstack, id);
    const [fe, be] = await Promise.all([
      openVchanFrontend({ client: front, platform: platform(FRONTEND), devid: 3 }),
      openVchanBackend({ client: back, platform: platform(0), frontendDomid: FRONTEND, devid: 3 }),
    ]);
    expect(await toolstack.readString(`${paths.frontend}/state`)).toBe(
      String(XenbusState.Connected),
    );
    expect(await toolstack.readString(`${paths.backend}/state`)).toBe(
      String(XenbusState.Connected),
    );
    const closed = Promise.all([once(fe.device, 'closed'), once(be.device, 'closed')]);
    const started = performance.now();
    const [feSent, beSent, feReceived, beReceived] = await Promise.all([
      sendRandom(fe.stream, 10 * MB),
      sendRandom(be.stream, 10 * MB),
      receiveAll(fe.stream),
      receiveAll(be.stream),
    ]);
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `vchan device over the real xenstored: ${(20 / seconds).toFixed(1)} MiB/s both ways together`,
    );
    expect(beReceived).toEqual(feSent);
    expect(feReceived).toEqual(beSent);
    expect(feSent.bytes).toBe(10 * MB);
    await closed;
    expect(await toolstack.readString(`${paths.frontend}/state`)).toBe(String(XenbusState.Closed));
    expect(await toolstack.readString(`${paths.backend}/state`)).toBe(String(XenbusState.Closed));
  });
});
