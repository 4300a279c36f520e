import { once } from 'node:events';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openConsole, XENWIRE_CONSOLE_TTY } from '../../src/console/index.ts';
import { createSimulatedHost, type SimulatedHost } from '../../src/host/index.ts';
import { XenconsOffset } from '../../src/ring/index.ts';
import { type DevicePlatform, simulatedPlatform } from '../../src/xenbus/index.ts';

let host: SimulatedHost;
let platforms: DevicePlatform[];
beforeEach(async () => {
  host = await createSimulatedHost({ guests: 2 });
  platforms = [];
});
afterEach(async () => {
  for (const platform of platforms) if (!platform.eventChannel.closed) platform.close();
  await host.close();
});

function dom0(): DevicePlatform {
  const platform = simulatedPlatform(host.hypervisor, 0);
  platforms.push(platform);
  return platform;
}

/** Collects what a stream yields until `text` has arrived. */
function until(stream: NodeJS.ReadableStream, text: string): Promise<string> {
  let seen = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString('latin1');
      if (!seen.includes(text)) return;
      stream.off('data', onData);
      resolve(seen);
    };
    stream.on('data', onData);
    stream.once('error', reject);
  });
}

describe('the simulated host gives each guest a PV console', () => {
  it('as libxl does: the page granted to dom0 under the reserved entry, the nodes in the home', async () => {
    const xs = host.dom0Client;
    const guest = host.guest(1);
    const dir = '/local/domain/1/console';
    expect(await xs.readString(`${dir}/port`)).toBe(String(guest.consolePort));
    expect(await xs.readString(`${dir}/type`)).toBe('xenconsoled');
    expect(await xs.getPermissions(`${dir}/port`)).toEqual([
      { access: 'n', domid: 0 },
      { access: 'r', domid: 1 },
    ]);
    expect(await xs.getPermissions(dir)).toEqual([
      { access: 'n', domid: 1 },
      { access: 'r', domid: 0 },
    ]);
    expect(host.hypervisor.status(1, guest.consolePort)).toMatchObject({
      state: 'unbound',
      remoteDomid: 0,
    });
    const page = host.hypervisor.grants.map(0, 1, 0);
    guest.console.write('x');
    await new Promise((resolve) => setImmediate(resolve));
    expect(page[XenconsOffset.out]).toBe('x'.charCodeAt(0));
    host.hypervisor.grants.unmap(0, 1, 0);
  });
});

describe('openConsole', () => {
  it("reads a guest's output, types its input, and lets go so that another backend can attach", async () => {
    const guest = host.guest(1);
    guest.console.write('booted\n@@marker@@\n'); // before anyone attached: waits in the ring
    const backend = await openConsole({ client: host.dom0Client, platform: dom0(), domid: 1 });
    expect(await until(backend, '@@marker@@')).toBe('booted\n@@marker@@\n');
    backend.write('echo hi\n');
    expect(await until(guest.console, '\n')).toBe('echo hi\n');
    await expect(
      openConsole({ client: host.dom0Client, platform: dom0(), domid: 1 }),
    ).rejects.toMatchObject({ code: 'EBUSY' });
    backend.destroy();
    await once(backend, 'close');
    const again = await openConsole({ client: host.dom0Client, platform: dom0(), domid: 1 });
    guest.console.write('still here\n');
    expect(await until(again, 'still here')).toBe('still here\n');
    again.destroy();
  });

  it('carries output larger than the ring, the guest waiting for room', async () => {
    const guest = host.guest(2);
    const big = Buffer.alloc(100_000, 'o');
    let written = false;
    guest.console.write(big, () => {
      written = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(written).toBe(false); // 2 KiB in the ring, the rest waiting for a backend
    const backend = await openConsole({ client: host.dom0Client, platform: dom0(), domid: 2 });
    let got = 0;
    await new Promise<void>((resolve) => {
      backend.on('data', (chunk: Buffer) => {
        got += chunk.length;
        if (got >= big.length) resolve();
      });
    });
    expect(got).toBe(big.length);
    expect(written).toBe(true);
    backend.destroy();
  });

  it('ends when the domain goes, after the output still in the ring, and holds nothing', async () => {
    const guest = host.guest(1);
    const backend = await openConsole({ client: host.dom0Client, platform: dom0(), domid: 1 });
    let output = '';
    backend.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    const ended = once(backend, 'end');
    const closed = once(backend, 'close');
    guest.console.write('last words\n');
    await host.destroyDomain(1);
    await ended;
    await closed;
    expect(output).toBe('last words\n');
    // No port of dom0 refers to the dead domain any more (ours was unbound).
    for (let port = 1; port < 64; port++) {
      const status = host.hypervisor.status(0, port);
      expect(status.state !== 'closed' && 'remoteDomid' in status && status.remoteDomid).not.toBe(
        1,
      );
    }
  });

  it('refuses what is no console: a bad domid (EINVAL), a domain without one (ENOENT)', async () => {
    const client = host.dom0Client;
    await expect(openConsole({ client, platform: dom0(), domid: 0 })).rejects.toMatchObject({
      code: 'EINVAL',
    });
    const bare = host.hypervisor.createDomain();
    await expect(openConsole({ client, platform: dom0(), domid: bare })).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });

  it('carries any chunking of output and input both ways, in order', async () => {
    const guest = host.guest(1);
    const backend = await openConsole({ client: host.dom0Client, platform: dom0(), domid: 1 });
    const chunks = fc.array(fc.string({ minLength: 1, maxLength: 3000 }), { maxLength: 8 });
    await fc.assert(
      fc.asyncProperty(chunks, chunks, async (out, input) => {
        const expectOut = out.join('');
        const expectIn = input.join('');
        const gotOut = expectOut ? until(backend, `${expectOut}\u0001`) : Promise.resolve('');
        const gotIn = expectIn ? until(guest.console, `${expectIn}\u0002`) : Promise.resolve('');
        for (const piece of out) guest.console.write(piece);
        for (const piece of input) backend.write(piece);
        if (expectOut) guest.console.write('\u0001');
        if (expectIn) backend.write('\u0002');
        expect(await gotOut).toBe(
          expectOut ? Buffer.from(`${expectOut}\u0001`).toString('latin1') : '',
        );
        expect(await gotIn).toBe(
          expectIn ? Buffer.from(`${expectIn}\u0002`).toString('latin1') : '',
        );
      }),
      { numRuns: 30 },
    );
    backend.destroy();
  });

  it('says it serves the console in console/tty, as libxl waits for, and empties it on detach', async () => {
    const tty = '/local/domain/1/console/tty';
    const backend = await openConsole({ client: host.dom0Client, platform: dom0(), domid: 1 });
    expect(await host.dom0Client.readString(tty)).toBe(XENWIRE_CONSOLE_TTY);
    backend.destroy();
    await once(backend, 'close');
    expect(await host.dom0Client.readString(tty)).toBe('');
    // A tty another backend wrote is left alone.
    await host.dom0Client.write(tty, '/dev/pts/3');
    const second = await openConsole({ client: host.dom0Client, platform: dom0(), domid: 1 });
    second.destroy();
    await once(second, 'close');
    expect(await host.dom0Client.readString(tty)).toBe('/dev/pts/3');
  });

  it('waits for the toolstack to write the console (timeoutMs), or gives up (ETIMEDOUT)', async () => {
    const client = host.dom0Client;
    const bare = host.hypervisor.createDomain();
    await expect(
      openConsole({ client, platform: dom0(), domid: bare, timeoutMs: 50 }),
    ).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    // The toolstack's steps for the bare domain, while a backend waits for its console.
    const attaching = openConsole({ client, platform: dom0(), domid: bare, timeoutMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    host.hypervisor.grants.seed(bare, 0, 0);
    const port = host.hypervisor.allocUnbound(bare, 0);
    await client.write(`/local/domain/${bare}/console/port`, String(port));
    const backend = await attaching;
    expect(backend.destroyed).toBe(false);
    backend.destroy();
  });
});
