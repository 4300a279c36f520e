import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedHypervisor } from '../../src/evtchn/index.ts';
import {
  createDevice,
  type DevicePlatform,
  devicePaths,
  openVchanBackend,
  openVchanFrontend,
  simulatedPlatform,
  XenbusState,
} from '../../src/xenbus/index.ts';
import { ringConnector, XenstoreClient } from '../../src/xenstore/index.ts';
import { type RingTarget, realRingTarget } from '../ring-transport/support/ring-targets.ts';
import { xenInstall } from '../support/real-xenstored.ts';
import { nativeAddonReady } from '../support/requirements.ts';
import { receiveAll, sendRandom } from './support/streams.ts';

const MB = 1024 * 1024;
const GUEST = 6;
const ready = nativeAddonReady() && xenInstall !== undefined;

/**
 * The vchan device with Xen's own C xenstored (4.17, under the harness's shim) carrying the
 * handshake: the frontend is a real unprivileged guest talking over its ring page, the backend
 * and toolstack are dom0 on the daemon's socket. Grants and event channels of the device come
 * from the simulated hypervisor.
 */
describe.skipIf(!ready)('the vchan device over the real C xenstored', () => {
  let target: RingTarget | undefined;
  const closers: (() => unknown)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await target?.stop();
    target = undefined;
  });

  /** The daemon with the guest introduced, the device created, and both ends connected. */
  async function connected() {
    target = await realRingTarget(xenInstall as NonNullable<typeof xenInstall>, GUEST);
    const hv = SimulatedHypervisor.create();
    hv.createDomain(GUEST);
    const platform = (domid: number): DevicePlatform => {
      const made = simulatedPlatform(hv, domid);
      closers.push(() => made.close());
      return made;
    };
    const { page, eventChannel, port } = target;
    const guest = await XenstoreClient.connect({
      transport: ringConnector({ page, eventChannel, port }),
    });
    closers.push(() => guest.close());
    const id = { type: 'vchan', frontendDomid: GUEST, backendDomid: 0, devid: 0 };
    await createDevice(target.admin, id);
    const [front, back] = await Promise.all([
      openVchanFrontend({ client: guest, platform: platform(GUEST) }),
      openVchanBackend({ client: target.admin, platform: platform(0), frontendDomid: GUEST }),
    ]);
    return { hv, admin: target.admin, paths: devicePaths(id), front, back };
  }

  it('connects a guest frontend, carries 10 MiB each way with matching hashes, and closes', async () => {
    const { admin, paths, front, back } = await connected();
    expect(await admin.readString(`${paths.frontend}/state`)).toBe(String(XenbusState.Connected));
    expect(await admin.readString(`${paths.backend}/state`)).toBe(String(XenbusState.Connected));
    const closed = Promise.all([once(front.device, 'closed'), once(back.device, 'closed')]);
    const started = performance.now();
    const [feSent, beSent, feReceived, beReceived] = await Promise.all([
      sendRandom(front.stream, 10 * MB),
      sendRandom(back.stream, 10 * MB),
      receiveAll(front.stream),
      receiveAll(back.stream),
    ]);
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `vchan device over the real xenstored: ${(20 / seconds).toFixed(1)} MiB/s both ways together`,
    );
    expect(beReceived).toEqual(feSent);
    expect(feReceived).toEqual(beSent);
    expect(feSent.bytes).toBe(10 * MB);
    await closed;
    expect(await admin.readString(`${paths.frontend}/state`)).toBe(String(XenbusState.Closed));
    expect(await admin.readString(`${paths.backend}/state`)).toBe(String(XenbusState.Closed));
  });

  it('notices the guest destroyed mid-stream through the daemon’s @releaseDomain', async () => {
    const { hv, admin, paths, front, back } = await connected();
    front.stream.on('error', () => {}); // the frontend's own end dies with its domain
    void sendRandom(front.stream, 1024 * MB);
    const closed = once(back.device, 'closed');
    const failed = once(back.stream, 'error');
    back.stream.resume();
    const port = back.device.connection?.port as number;
    await once(back.stream, 'data');
    hv.destroyDomain(GUEST);
    await target?.destroy();
    const [reason] = await closed;
    expect(reason).toMatchObject({ code: 'ESRCH' });
    expect((await failed)[0]).toMatchObject({ code: 'ESRCH' });
    expect(hv.status(0, port).state).toBe('closed');
    expect(await admin.readString(`${paths.backend}/state`)).toBe(String(XenbusState.Closed));
  });
});
