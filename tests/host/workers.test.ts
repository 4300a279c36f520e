import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { createSimulatedHost, type SimulatedHost } from '../../src/host/index.ts';

// Workers do not inherit the TypeScript loader: this entry registers it, then imports `entry`.
const bootstrap = new URL('../evtchn/support/typescript-worker.mjs', import.meta.url);
const entry = new URL('./support/guest-program.ts', import.meta.url).href;

/** Resolves once `path` holds `value`, woken by a watch (never polled). */
async function until(host: SimulatedHost, path: string, value: string): Promise<void> {
  const watch = await host.dom0Client.watch(path);
  try {
    for await (const _ of watch) {
      const now = await host.dom0Client.readString(path).catch(() => undefined);
      if (now === value) return;
    }
  } finally {
    await watch.close();
  }
}

describe('guests in worker threads', () => {
  let host: SimulatedHost | undefined;
  afterEach(async () => {
    await host?.close();
    host = undefined;
  });

  it('talk to xenstored only through their rings and event channels', async () => {
    host = await createSimulatedHost();
    // Listen for 'watching' as soon as each worker exists: a message nobody listens for is lost.
    const workers = await Promise.all(
      [0, 1].map(async () => {
        const guest = await host!.spawnGuestWorker(bootstrap, { workerData: { entry } });
        await once(guest.worker, 'message');
        return guest;
      }),
    );
    expect(workers.map((w) => w.domid).sort()).toEqual([1, 2]);
    for (const { domid } of workers) {
      const home = `/local/domain/${domid}`;
      expect(await host.dom0Client.readString(`${home}/hello`)).toBe(`domain ${domid} in a worker`);
      for (const value of ['one', 'two', 'stop']) {
        const echoed = until(host, `${home}/pong`, value);
        await host.dom0Client.write(`${home}/ping`, value);
        await echoed;
      }
    }
  });

  it('rejects, and takes the domain down, when the worker never connects', async () => {
    host = await createSimulatedHost();
    await expect(
      host.spawnGuestWorker(new URL('data:text/javascript,process.exit(3)')),
    ).rejects.toThrow(/exited \(3\) before connecting/);
    await expect(
      host.spawnGuestWorker(new URL('data:text/javascript,throw new Error("no kernel")')),
    ).rejects.toThrow('no kernel');
    expect(host.guestDomids).toEqual([]);
  });

  it('destroying a worker guest releases its domain', async () => {
    host = await createSimulatedHost({ guests: 1 });
    const { domid, worker } = await host.spawnGuestWorker(bootstrap, { workerData: { entry } });
    await once(worker, 'message');
    await host.destroyDomain(domid);
    expect(await host.dom0Client.isDomainIntroduced(domid)).toBe(false);
    expect(host.rings.domids).toEqual([1]);
    expect(host.guestDomids).toEqual([1]);
  });
});
