/**
 * The DomU's end of a lane vchan pair, started from the DomU's shell (typed in through its
 * console by the Dom0 part): a libxenvchan client, xenwire's or Xen's C one, that exchanges BYTES
 * random bytes each way with the server of domain DOMID at PATH.
 *
 *   node peer.mjs xenwire-client|c-client DOMID PATH BYTES
 *
 * Prints `@@vchan-received PATH <bytes>@@` once everything has arrived, then waits for the
 * server to close (the Dom0 part closes once both sides have all: libxenvchan's close ends both
 * directions and vchan-socket-proxy drops what is left in the ring), then prints
 * `@@vchan-result PATH <json>@@` (what was sent, what arrived and in how long), or
 * `@@vchan-failed PATH <message>@@`. Several run at once, told apart by PATH.
 *
 * Bundled into one file for the DomU image by `build.mjs`; the image's /init sets
 * XENWIRE_NATIVE_ADDON.
 */
import { once } from 'node:events';
import { openVchanClient } from '../../../src/vchan/index.ts';
import { xenPlatform } from '../../../src/xenbus/index.ts';
import { XenstoreClient, xenbusDeviceConnector } from '../../../src/xenstore/index.ts';
import { startCPeer } from './c-peer.ts';
import { type Digest, type Received, receive, sendRandom } from './transfer.ts';

const [role, domidText, path, bytesText] = process.argv.slice(2);
const domid = Number(domidText);
const bytes = Number(bytesText);

/** Where build.mjs put the C tools. */
const C_TOOLS = {
  proxy: '/usr/lib/xen-vchan/vchan-socket-proxy',
  libraryPath: '/usr/lib/xen-vchan',
};

async function xenwireClient(): Promise<{ sent: Digest; received: Received }> {
  const client = await XenstoreClient.connect({ transport: xenbusDeviceConnector() });
  const platform = xenPlatform();
  try {
    const stream = await openVchanClient({
      client,
      platform,
      peerDomid: domid,
      path: path as string,
      timeoutMs: 60_000,
    });
    const ended = once(stream, 'close');
    const [sent, received] = await Promise.all([sendRandom(stream, bytes), receive(stream, bytes)]);
    console.log(`@@vchan-received ${path} ${received.bytes}@@`);
    // The server's close ends the readable side; with allowHalfOpen false this end closes too.
    stream.resume();
    await ended;
    return { sent, received };
  } finally {
    platform.close();
    await client.close();
  }
}

async function cClient(): Promise<{ sent: Digest; received: Received }> {
  const peer = startCPeer(C_TOOLS, 'client', domid, path as string, bytes);
  const [sent, received] = await Promise.all([peer.sent, peer.received]);
  console.log(`@@vchan-received ${path} ${received.bytes}@@`);
  // The proxy exits once the server has closed the vchan.
  const status = await peer.exited;
  if (status !== 0) throw new Error(`vchan-socket-proxy exited ${status}: ${peer.stderr()}`);
  return { sent, received };
}

const run = { 'xenwire-client': xenwireClient, 'c-client': cClient }[role as string];
if (!run || !(bytes > 0) || !path) {
  console.log(`@@vchan-failed ${path} usage: peer.mjs xenwire-client|c-client DOMID PATH BYTES@@`);
  process.exit(2);
}
run().then(
  (result) => {
    console.log(`@@vchan-result ${path} ${JSON.stringify({ role, ...result })}@@`);
    process.exit(0);
  },
  (error: unknown) => {
    console.log(
      `@@vchan-failed ${path} ${String((error as Error).stack ?? error).replaceAll('\n', ' | ')}@@`,
    );
    process.exit(1);
  },
);
