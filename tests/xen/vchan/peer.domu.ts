/**
 * The DomU's ends of the lane's vchan pairs, started once from the DomU's shell (typed in through
 * its console by the Dom0 part): for each ROLE:PATH in turn, a libxenvchan client, xenwire's
 * (`xenwire-client`) or Xen's C one (`c-client`), that exchanges BYTES random bytes each way with
 * the server of domain DOMID at PATH. One Node start for all pairs: it takes seconds under
 * emulation.
 *
 *   node peer.mjs DOMID BYTES ROLE:PATH…
 *
 * For each pair, prints `@@vchan-received PATH <bytes>@@` once everything has arrived, then
 * waits for the server to close (the Dom0 part closes once both sides have all: libxenvchan's
 * close ends both directions and vchan-socket-proxy drops what is left in the ring), then prints
 * `@@vchan-result PATH <json>@@` (what was sent, what arrived and in how long); or
 * `@@vchan-failed PATH <message>@@`, and stops.
 *
 * Bundled into one file for the DomU image by `build.mjs`; the image's /init sets
 * XENWIRE_NATIVE_ADDON.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { openVchanClient } from '../../../src/vchan/index.ts';
import { xenPlatform } from '../../../src/xenbus/index.ts';
import { XenstoreClient, xenbusDeviceConnector } from '../../../src/xenstore/index.ts';
import { startCPeer } from './c-peer.ts';
import { type Digest, type Received, receive, sendRandom } from './transfer.ts';

const [domidText, bytesText, ...specs] = process.argv.slice(2);
const domid = Number(domidText);
const bytes = Number(bytesText);

/** Where build.mjs put the C tools. */
const C_TOOLS = {
  proxy: '/usr/lib/xen-vchan/vchan-socket-proxy',
  libraryPath: '/usr/lib/xen-vchan',
};

async function xenwireClient(path: string): Promise<{ sent: Digest; received: Received }> {
  const client = await XenstoreClient.connect({ transport: xenbusDeviceConnector() });
  const platform = xenPlatform();
  try {
    const stream = await openVchanClient({
      client,
      platform,
      peerDomid: domid,
      path,
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

async function cClient(path: string): Promise<{ sent: Digest; received: Received }> {
  const peer = startCPeer(C_TOOLS, 'client', domid, path, bytes);
  const [sent, received] = await Promise.all([peer.sent, peer.received]);
  console.log(`@@vchan-received ${path} ${received.bytes}@@`);
  // The proxy exits once the server has closed the vchan.
  const status = await peer.exited;
  if (status !== 0) throw new Error(`vchan-socket-proxy exited ${status}: ${peer.stderr()}`);
  return { sent, received };
}

/**
 * CPU seconds (user + system) of this process and of its waited-for children, from
 * /proc/self/stat: a C client's proxy is a child, reaped before its pair reports.
 */
function cpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  // utime, stime, cutime, cstime: fields 14-17 of proc(5), 12-15 after the name.
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  return ticks / 100;
}

const run = { 'xenwire-client': xenwireClient, 'c-client': cClient };
const pairs = specs.map((spec) => {
  const at = spec.indexOf(':');
  return { role: spec.slice(0, at), path: spec.slice(at + 1) };
});
if (!(bytes > 0) || pairs.length === 0 || pairs.some(({ role }) => !Object.hasOwn(run, role))) {
  console.log(`@@vchan-failed - usage: peer.mjs DOMID BYTES ROLE:PATH…@@`);
  process.exit(2);
}
for (const { role, path } of pairs) {
  try {
    const cpuBefore = cpuSeconds();
    const result = await run[role as keyof typeof run](path);
    const cpu = Number((cpuSeconds() - cpuBefore).toFixed(2));
    console.log(`@@vchan-result ${path} ${JSON.stringify({ role, ...result, cpu })}@@`);
  } catch (error) {
    console.log(
      `@@vchan-failed ${path} ${String((error as Error).stack ?? error).replaceAll('\n', ' | ')}@@`,
    );
    process.exit(1);
  }
}
process.exit(0);
