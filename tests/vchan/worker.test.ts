import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { openVchanServer, vchanPath } from '../../src/vchan/index.ts';
import type { Digest } from '../xen/vchan/transfer.ts';
import { exchangeRandom } from './support/exchange-digests.ts';
import { closed, type VchanHost, vchanHost } from './support/vchan-host.ts';

const MB = 1024 * 1024;
const workerBootstrap = new URL('../evtchn/support/typescript-worker.mjs', import.meta.url);
const workerEntry = new URL('./support/vchan-client-worker.ts', import.meta.url).href;

let env: VchanHost | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

async function serverFor(leftMin: number, rightMin: number, bytes: number) {
  env = await vchanHost();
  const { host } = env;
  const guest = await host.spawnGuestWorker(workerBootstrap, {
    workerData: { entry: workerEntry, bytes },
  });
  const path = vchanPath(0, guest.domid, 1);
  const server = await openVchanServer({
    client: host.dom0Client,
    platform: env.platformOf(0),
    peerDomid: guest.domid,
    path,
    leftMin,
    rightMin,
  });
  guest.worker.postMessage(path);
  return { guest, server };
}

describe('a libxenvchan client in a worker thread (its own domain) and a dom0 server', () => {
  for (const [leftMin, rightMin] of [
    [0, 0],
    [65_536, 262_144],
  ] as const) {
    it(`carries 10 MiB each way at once with rings of ${leftMin} and ${rightMin} bytes asked`, async () => {
      const { guest, server } = await serverFor(leftMin, rightMin, 10 * MB);
      const report = once(guest.worker, 'message') as Promise<[{ sent: Digest; received: Digest }]>;
      await once(server, 'connect');
      const started = performance.now();
      const done = closed(server);
      const ours = await exchangeRandom(server, 10 * MB);
      const seconds = (performance.now() - started) / 1000;
      const [theirs] = await report;
      console.log(
        `libxenvchan pair, client in a worker, orders ${server.orders.left}/${server.orders.right}: ` +
          `${((2 * 10) / seconds).toFixed(1)} MiB/s both ways together`,
      );
      expect(ours.received).toEqual(theirs.sent);
      expect(theirs.received).toEqual(ours.sent);
      expect(ours.received.bytes).toBe(10 * MB);
      expect(await done).toBeUndefined();
    });
  }

  it("ends the server's stream with ESRCH when the client's domain is destroyed mid-stream", async () => {
    const { guest, server } = await serverFor(0, 0, 1024 * MB);
    const done = closed(server);
    server.resume();
    await once(server, 'data');
    await env?.host.destroyDomain(guest.domid);
    expect(await done).toMatchObject({ code: 'ESRCH' });
    expect(await env?.host.dom0Client.exists(server.path)).toBe(false);
  });
});
