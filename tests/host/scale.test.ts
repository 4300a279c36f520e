import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulatedHost, type SimulatedHost } from '../../src/host/index.ts';
import type { Watch } from '../../src/xenstore/index.ts';

/** As many guests as a large real host runs. */
const GUESTS = 1000;

const openFds = (): number => readdirSync('/proc/self/fd').length;
/** Resources that keep the event loop alive (timers, sockets, handles), by kind. */
const activeResources = (): string[] => process.getActiveResourcesInfo().sort();

describe(`a simulated host of ${GUESTS} guests`, () => {
  let host: SimulatedHost;
  let fdsBefore: number;
  let resourcesBefore: string[];

  beforeAll(async () => {
    fdsBefore = openFds();
    resourcesBefore = activeResources();
    host = await createSimulatedHost({ guests: GUESTS });
  }, 60_000);

  afterAll(async () => {
    await host?.close();
  });

  it('boots every guest, each served over its own ring', () => {
    expect(host.guestDomids).toHaveLength(GUESTS);
    expect(host.rings.domids).toEqual(host.guestDomids);
  });

  it('lets every guest read its own home and no other', async () => {
    const domids = host.guestDomids;
    const outcomes = await Promise.all(
      domids.map(async (domid, i) => {
        const client = host.guest(domid).client;
        const neighbour = domids[(i + 1) % domids.length]!;
        await client.write('name', `guest-${domid}`);
        const own = await client.readString(`/local/domain/${domid}/name`);
        const other = await client.read(`/local/domain/${neighbour}`).then(
          () => 'read',
          (error: { code?: string }) => error.code,
        );
        return { own: own === `guest-${domid}`, other };
      }),
    );
    expect(outcomes.filter((o) => !o.own)).toEqual([]);
    expect(outcomes.filter((o) => o.other !== 'EACCES')).toEqual([]);
  }, 60_000);

  it('fires @releaseDomain exactly once at every watching guest when a domain dies', async () => {
    await host.dom0Client.setPermissions('@releaseDomain', [{ access: 'r', domid: 0 }]);
    const victim = host.guestDomids[GUESTS / 2]!;
    const fired = new Map<number, number>();
    const watches = new Map<number, Watch>();
    await Promise.all(
      host.guestDomids.map(async (domid) => {
        const watch = await host.guest(domid).client.watch('@releaseDomain');
        // The registration event comes first; only what follows counts.
        await watch[Symbol.asyncIterator]().next();
        fired.set(domid, 0);
        watch.on('event', () => fired.set(domid, fired.get(domid)! + 1));
        watches.set(domid, watch);
      }),
    );
    const survivors = host.guestDomids.filter((domid) => domid !== victim);
    await host.destroyDomain(victim);
    await expect
      .poll(() => survivors.filter((domid) => fired.get(domid) === 0), { timeout: 30_000 })
      .toEqual([]);
    // Each survivor's watch has been answered; a second firing would be on its way by now, as
    // every event of one release is queued in one pass: a round trip on each ring shows it.
    await Promise.all(survivors.map((domid) => host.guest(domid).client.getDomainPath(domid)));
    expect(survivors.filter((domid) => fired.get(domid) !== 1)).toEqual([]);
    expect(host.guestDomids).not.toContain(victim);
    expect(host.rings.domids).toEqual(survivors);
    await Promise.all(survivors.map((domid) => watches.get(domid)!.close()));
  }, 60_000);

  it('shuts down leaving no client, ring, file descriptor or handle behind', async () => {
    const clients = host.guestDomids.map((domid) => host.guest(domid).client);
    await host.close();
    expect(clients.filter((client) => client.open)).toEqual([]);
    expect(host.rings.domids).toEqual([]);
    expect(openFds()).toBe(fdsBefore);
    expect(activeResources()).toEqual(resourcesBefore);
  }, 60_000);
});
