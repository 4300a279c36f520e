import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { XenstoreClient } from '../../src/xenstore/client.ts';
import { MessageType } from '../../src/xenstore/messages.ts';
import { joinStrings } from '../../src/xenstore/payload.ts';
import { type Listener, socketListener, XenstoreServer } from '../../src/xenstore/server.ts';
import { encodeMessage } from '../../src/xenstore/wire.ts';

const GUEST = 5;
const MB = 1024 * 1024;

const openFds = () => readdirSync('/proc/self/fd').length;
const rss = () => process.memoryUsage().rss;
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

/** Waits (at most 5 s) until `done` holds. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !done(); i++) await settle();
}

function connect(path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path, () => resolve(socket));
    socket.once('error', reject);
  });
}

/**
 * A guest that misbehaves on its socket: the server's memory stays bounded, dom0 keeps being
 * answered, and no file descriptor outlives the connections. Figures go to the test output.
 */
describe('a hostile guest on its socket', () => {
  let dir: string;
  let server: XenstoreServer;
  let dom0Socket: Listener;
  let guestSocket: Listener;
  let dom0: XenstoreClient;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xenwire-hostile-'));
    server = new XenstoreServer();
    dom0Socket = await socketListener(server, { path: join(dir, 'socket') });
    guestSocket = await socketListener(server, { path: join(dir, 'guest.sock'), domid: GUEST });
    dom0 = await XenstoreClient.connect({ socketPath: join(dir, 'socket') });
    await dom0.write(`/local/domain/${GUEST}/big`, Buffer.alloc(4000, 97));
    await dom0.setPermissions(`/local/domain/${GUEST}`, [{ access: 'n', domid: GUEST }]);
  });
  afterEach(async () => {
    await dom0.close();
    await guestSocket.close();
    await dom0Socket.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('that floods reads of a 4 KB node and never reads the replies is held to its quota', async () => {
    const fdsBefore = openFds();
    const read = encodeMessage({
      type: MessageType.READ,
      reqId: 1,
      txId: 0,
      payload: joinStrings([`/local/domain/${GUEST}/big`]),
    });
    const burst = Buffer.concat(Array.from({ length: 2000 }, () => read));
    const floods = await Promise.all(
      Array.from({ length: 16 }, () => connect(join(dir, 'guest.sock'))),
    );
    for (const socket of floods) socket.pause();
    const rssBefore = rss();
    // 16 connections × 20,000 reads, 80 MB of replies if all were answered.
    for (let round = 0; round < 10; round++) {
      for (const socket of floods) socket.write(burst);
      await settle();
    }
    const started = performance.now();
    expect(await dom0.readString(`/local/domain/${GUEST}/big`)).toHaveLength(4000);
    const dom0Ms = performance.now() - started;
    const grown = (rss() - rssBefore) / MB;
    console.log(
      `flood, never reading: RSS grew ${grown.toFixed(1)} MB; dom0 read took ${dom0Ms.toFixed(1)} ms`,
    );
    // Unread output is held to the guest's memory quota (2.5 MB), plus what the kernel buffers
    // and a chunk of requests per connection: far below the 80 MB the replies would take.
    expect(grown).toBeLessThan(64);
    for (const socket of floods) socket.destroy();
    await settle();
    const fdsAfter = openFds();
    console.log(`file descriptors: ${fdsBefore} before, ${fdsAfter} after`);
    expect(fdsAfter).toBeLessThanOrEqual(fdsBefore);
  });

  it('that opens thousands of connections gets 16, and dom0 is still answered', async () => {
    const fdsBefore = openFds();
    const attempts = await Promise.allSettled(
      Array.from({ length: 2000 }, () => connect(join(dir, 'guest.sock'))),
    );
    const sockets = attempts.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
    await settle();
    expect(await dom0.readString(`/local/domain/${GUEST}/big`)).toHaveLength(4000);
    console.log(`2,000 connection attempts: the server holds ${server.connectionCount}`);
    // dom0's own connection, plus the guest's 16.
    expect(server.connectionCount).toBe(1 + 16);
    for (const socket of sockets) socket.destroy();
    await until(() => server.connectionCount === 1);
    expect(server.connectionCount).toBe(1);
    const fdsAfter = openFds();
    console.log(`file descriptors: ${fdsBefore} before, ${fdsAfter} after`);
    expect(fdsAfter).toBeLessThanOrEqual(fdsBefore);
  });

  it('that fills its node and watch quotas leaves dom0 answered and is refused past them', async () => {
    const guest = await XenstoreClient.connect({ socketPath: join(dir, 'guest.sock') });
    const nodes = await Promise.allSettled(
      Array.from({ length: 1100 }, (_, i) => guest.write(`n${Math.floor(i / 100)}/${i}`, 'x')),
    );
    const watches = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => guest.watch(`w/${i}`)),
    );
    const refused = (results: PromiseSettledResult<unknown>[]) =>
      results
        .filter((r) => r.status === 'rejected')
        .map((r) => (r.reason as { code: string }).code);
    console.log(
      `quotas: ${1100 - refused(nodes).length} nodes, ${200 - refused(watches).length} watches accepted`,
    );
    expect(new Set(refused(nodes))).toEqual(new Set(['ENOSPC']));
    expect(new Set(refused(watches))).toEqual(new Set(['E2BIG']));
    expect(await dom0.readString(`/local/domain/${GUEST}/big`)).toHaveLength(4000);
    await guest.close();
  });
});
