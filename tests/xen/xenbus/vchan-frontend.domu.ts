/**
 * The vchan device's frontend in a PV DomU on real Xen: the guest's own `/dev/xen/xenbus`,
 * `/dev/xen/gntalloc` and `/dev/xen/evtchn`. Waits for the toolstack's device directory, connects,
 * sends `xenwire.bytes=N` random bytes (kernel command line; default 10 MiB) while receiving to
 * the end, then leaves both digests in its home (`data/vchan-result`) for Dom0 to compare, and
 * prints `@@xen-lane:domu-status N@@` like the lane's probe.
 *
 * Bundled into one file for the DomU image by `build-domu.mjs` (the image has node, no tsx).
 */
import { readFileSync } from 'node:fs';
import { openVchanFrontend, xenPlatform } from '../../../src/xenbus/index.ts';
import { XenstoreClient, xenbusDeviceConnector } from '../../../src/xenstore/index.ts';
import { receiveAll, sendRandom } from '../../xenbus/support/streams.ts';

const cmdline = readFileSync('/proc/cmdline', 'utf8');
const bytes = Number(/xenwire\.bytes=(\d+)/.exec(cmdline)?.[1] ?? 10 * 1024 * 1024);

async function main(): Promise<void> {
  const client = await XenstoreClient.connect({ transport: xenbusDeviceConnector() });
  // The toolstack adds the device while the domain is paused, so it is there from the start.
  const platform = xenPlatform();
  const { stream, device } = await openVchanFrontend({ client, platform, timeoutMs: 60_000 });
  console.log(`xenbus-vchan[domu]: connected to backend domain ${device.backendDomid}`);
  const closed = new Promise((resolve) => device.once('closed', resolve));
  const started = Date.now();
  const [sent, received] = await Promise.all([sendRandom(stream, bytes), receiveAll(stream)]);
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `xenbus-vchan[domu]: sent ${sent.bytes} received ${received.bytes} in ${seconds.toFixed(2)} s`,
  );
  await client.write('data/vchan-result', JSON.stringify({ sent, received, seconds }));
  await closed;
  platform.close();
  await client.close();
}

main().then(
  () => console.log('@@xen-lane:domu-status 0@@'),
  (error: unknown) => {
    console.log(`xenbus-vchan[domu]: ${(error as Error).stack ?? String(error)}`);
    console.log('@@xen-lane:domu-status 1@@');
  },
);
