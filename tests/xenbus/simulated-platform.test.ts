import { describe, expect, it } from 'vitest';
import { type SimulatedEventChannel, SimulatedHypervisor } from '../../src/evtchn/index.ts';
import { type DevicePlatform, simulatedPlatform } from '../../src/xenbus/index.ts';

/** Ports that fired for this end. */
const fired = (platform: DevicePlatform) =>
  (platform.eventChannel as SimulatedEventChannel).takePending();

function pair() {
  const hv = SimulatedHypervisor.create();
  const guest = hv.createDomain();
  const sharer = simulatedPlatform(hv, guest);
  const mapper = simulatedPlatform(hv, 0);
  const port = sharer.eventChannel.bindUnboundPort(0);
  const peerPort = mapper.eventChannel.bindInterdomain(guest, port);
  return { hv, guest, sharer, mapper, port, peerPort };
}

describe('simulatedPlatform unmap notifications', () => {
  it('clears the byte and notifies when shared pages are released', () => {
    const { guest, sharer, mapper, port, peerPort } = pair();
    const shared = sharer.grantPages(0, 2, { unmapNotify: { clearByte: 4096 + 21, port } });
    shared.pages[1]![21] = 1;
    const mapped = mapper.mapGrants(guest, shared.refs);
    shared.release();
    // The peer still maps the pages (gntalloc defers their end) and sees the byte cleared.
    expect(mapped.pages[1]![21]).toBe(0);
    expect(fired(mapper)).toEqual([peerPort]);
    shared.release(); // a second release changes nothing
    mapped.release();
  });

  it("runs the notifications of a closed (dead) end's mappings, as the kernel does", () => {
    const { guest, sharer, mapper, port, peerPort } = pair();
    const shared = sharer.grantPages(0, 1);
    shared.pages[0]![20] = 1;
    mapper.mapGrants(guest, shared.refs, { unmapNotify: { clearByte: 20, port: peerPort } });
    mapper.close();
    expect(shared.pages[0]![20]).toBe(0);
    expect(fired(sharer)).toEqual([port]);
    // The mapping went with the end: the grant can now end at once.
    shared.release();
    sharer.close();
  });
});
