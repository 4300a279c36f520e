/**
 * The vchan device's backend in Dom0 on real Xen, against a frontend in a PV DomU running Node
 * (vchan-frontend.domu.ts, bundled into the DomU image): real xenstored, grants and event
 * channels on both sides. Two guests in turn:
 *
 * 1. 10 MiB each way; the hashes each side saw must match what the other sent; prints MiB/s;
 * 2. a guest destroyed (`xl destroy`) mid-stream: the backend must notice (`@releaseDomain`, the
 *    domain no longer introduced, or its nodes removed by xl), fail the stream, unmap, unbind and
 *    end Closed.
 *
 * Run inside the lane's Dom0 session (XEN_LANE_CACHE, XEN_LANE_TOOLS, XEN_LANE_LIBS set):
 *   node --import tsx tests/xen/xenbus/vchan-backend.dom0.ts   (the lane runs its bundle, built by build-domu.mjs)
 * Exits 0 when both parts pass.
 */
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import {
  createDevice,
  openVchanBackend,
  XenbusState,
  xenPlatform,
} from '../../../src/xenbus/index.ts';
import { XenstoreClient } from '../../../src/xenstore/index.ts';
import { type Digest, receiveAll, sendRandom } from '../../xenbus/support/streams.ts';
import { check, dom0Session } from '../support/dom0-session.ts';

const MB = 1024 * 1024;
const { xl, step, createPausedGuest } = dom0Session('xenbus-vchan');

/** Creates a paused PV guest that will run the frontend and send `bytes`. */
function createGuest(name: string, bytes: number): Promise<number> {
  return createPausedGuest({
    name,
    ramdisk: 'xenbus/initramfs-domu-xenbus.cpio',
    extra: `xenwire.bytes=${bytes}`,
    vcpus: 1,
  });
}

/** Resolves with a node's value once it exists (watch-driven). */
async function awaitValue(client: XenstoreClient, path: string): Promise<string> {
  const watch = await client.watch(path);
  try {
    for await (const _ of watch) {
      const value = await client.readString(path).catch(() => undefined);
      if (value !== undefined) return value;
    }
    throw new Error(`watch on ${path} ended`);
  } finally {
    await watch.close();
  }
}

async function part(
  client: XenstoreClient,
  name: string,
  body: (domid: number) => Promise<void>,
): Promise<boolean> {
  const guestName = `xenbus-vchan-${name}`;
  try {
    step(`part '${name}': creating the guest`);
    const domid = await createGuest(guestName, name === 'stream' ? 10 * MB : 1024 * MB);
    step(`part '${name}': domain ${domid} created paused; adding the device`);
    await createDevice(client, { type: 'vchan', frontendDomid: domid, backendDomid: 0, devid: 0 });
    await body(domid);
    step(`part '${name}' passed`);
    return true;
  } catch (error) {
    step(`part '${name}' FAILED: ${(error as Error).stack ?? error}`);
    return false;
  } finally {
    const log = `/var/log/xen/console/guest-${guestName}.log`;
    if (existsSync(log)) console.log(readFileSync(log, 'utf8').replaceAll('\r', ''));
  }
}

step('connecting to xenstored');
const client = await XenstoreClient.connect();
step('opening the event-channel and grant devices');
const platform = xenPlatform({ client });

const streamed = await part(client, 'stream', async (domid) => {
  const opening = openVchanBackend({ client, platform, frontendDomid: domid, timeoutMs: 180_000 });
  await xl('unpause', String(domid));
  step('unpaused; waiting for the frontend');
  const { stream, device } = await opening;
  step('connected; streaming');
  const closed = once(device, 'closed');
  const started = Date.now();
  const timed = async <T>(work: Promise<T>): Promise<[T, number]> => {
    const value = await work;
    return [value, (Date.now() - started) / 1000];
  };
  // Each direction's time ends when its last byte is in the ring (sending) or has been read
  // (receiving): the ring's few pages are negligible against 10 MiB.
  const [[sent, sentIn], [received, receivedIn]] = await Promise.all([
    timed(sendRandom(stream, 10 * MB)),
    timed(receiveAll(stream)),
  ]);
  const guest = JSON.parse(
    await awaitValue(client, `/local/domain/${domid}/data/vchan-result`),
  ) as {
    sent: Digest;
    received: Digest;
  };
  const rate = (bytes: number, seconds: number): string =>
    `${(bytes / MB / seconds).toFixed(2)} MiB/s (${seconds.toFixed(1)} s)`;
  // ASCII only: the emulated serial console now and then garbles other bytes, and the host
  // parses this line from it.
  console.log(
    `xen-lane: vchan between Dom0 and a PV DomU, 10 MiB each way at once: ` +
      `Dom0 -> DomU ${rate(sent.bytes, sentIn)}, DomU -> Dom0 ${rate(received.bytes, receivedIn)}`,
  );
  check(received.sha256 === guest.sent.sha256 && received.bytes === 10 * MB, 'DomU -> Dom0 data');
  check(
    guest.received.sha256 === sent.sha256 && guest.received.bytes === 10 * MB,
    'Dom0 -> DomU data',
  );
  const [reason] = await closed;
  check(reason === undefined, `clean close (got ${reason})`);
});

const killed = await part(client, 'destroy', async (domid) => {
  const opening = openVchanBackend({ client, platform, frontendDomid: domid, timeoutMs: 180_000 });
  await xl('unpause', String(domid));
  step('unpaused; waiting for the frontend');
  const { stream, device } = await opening;
  step('connected; waiting for data');
  const closed = once(device, 'closed');
  let closedAt = 0;
  device.once('closed', () => {
    closedAt = Date.now();
  });
  const failed = once(stream, 'error');
  let seen = 0;
  stream.on('data', (chunk: Buffer) => {
    seen += chunk.length;
  });
  await once(stream, 'data');
  const port = device.connection?.port;
  step(`destroying domain ${domid}`);
  const destroying = Date.now();
  await xl('destroy', String(domid));
  const xlTook = (Date.now() - destroying) / 1000;
  step('destroyed; waiting for the backend to notice');
  const [reason] = (await closed) as [{ code?: string } | undefined];
  // xl removes the device's nodes while tearing the domain down: the backend may see those
  // go (ECONNRESET) before xenstored releases the domain (ESRCH).
  const gone = ['ESRCH', 'ECONNRESET'];
  check(
    gone.includes(reason?.code ?? ''),
    `backend notices the domain going (got ${reason?.code})`,
  );
  const streamError = (await failed)[0] as { code?: string };
  check(gone.includes(streamError.code ?? ''), `the stream fails (got ${streamError.code})`);
  check(device.connection === undefined && port !== undefined, 'ring unmapped, port unbound');
  const state = await client.readString(`${device.path}/state`);
  check(state === String(XenbusState.Closed), `backend state Closed (got ${state})`);
  console.log(
    `xen-lane: vchan backend closed ${((closedAt - destroying) / 1000).toFixed(1)} s after ` +
      `xl destroy began (xl took ${xlTook.toFixed(1)} s), ${seen} bytes in: ${reason?.code}, ` +
      'ring unmapped, port unbound, state Closed',
  );
});

platform.close();
await client.close();
process.exit(streamed && killed ? 0 : 1);
