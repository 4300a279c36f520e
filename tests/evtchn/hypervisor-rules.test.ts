import { describe, expect, it } from 'vitest';
import { SimulatedHypervisor, Virq } from '../../src/evtchn/index.ts';
import { code } from './support/error-code.ts';

function host() {
  const hv = SimulatedHypervisor.create({ maxDomains: 4, portsPerDomain: 64 });
  const a = hv.createDomain();
  const b = hv.createDomain();
  return { hv, a, b };
}

describe('domains', () => {
  it('starts with dom0 and allocates the lowest free id', () => {
    const { hv, a, b } = host();
    expect([a, b]).toEqual([1, 2]);
    expect(hv.domains()).toEqual([0, 1, 2]);
    expect(code(() => hv.createDomain(1))).toBe('EEXIST');
    hv.createDomain(7);
    expect(code(() => hv.createDomain())).toBe('ENOSPC');
    expect(code(() => hv.destroyDomain(9))).toBe('ESRCH');
    expect(code(() => hv.destroyDomain(0))).toBe('EPERM');
    expect(code(() => hv.createDomain(0x7ff0))).toBe('EINVAL');
  });

  it('sends VIRQ_DOM_EXC to dom0 and unbinds peers when a domain is destroyed', () => {
    const { hv, a, b } = host();
    const exc = hv.bindVirq(0, Virq.DOM_EXC);
    const pa = hv.allocUnbound(a, b);
    const pb = hv.bindInterdomain(b, a, pa);
    hv.destroyDomain(a);
    expect(hv.status(0, exc).pending).toBe(true);
    expect(hv.status(b, pb)).toMatchObject({ state: 'unbound', remoteDomid: a });
    expect(code(() => hv.send(a, pa))).toBe('ESRCH');
  });
});

describe('EVTCHNOP rules', () => {
  it('alloc_unbound names the only domain that may bind', () => {
    const { hv, a, b } = host();
    const c = hv.createDomain();
    const pa = hv.allocUnbound(a, b);
    expect(pa).toBe(1); // port 0 is reserved
    expect(hv.status(a, pa)).toMatchObject({ state: 'unbound', remoteDomid: b });
    expect(code(() => hv.bindInterdomain(c, a, pa))).toBe('EINVAL');
    expect(code(() => hv.bindInterdomain(b, a, pa + 1))).toBe('EINVAL');
    expect(code(() => hv.bindInterdomain(b, a, 1000))).toBe('EINVAL');
    expect(code(() => hv.bindInterdomain(b, 5, pa))).toBe('ESRCH');
    const pb = hv.bindInterdomain(b, a, pa);
    expect(hv.status(a, pa)).toMatchObject({
      state: 'interdomain',
      remoteDomid: b,
      remotePort: pb,
    });
    expect(hv.status(b, pb)).toMatchObject({
      state: 'interdomain',
      remoteDomid: a,
      remotePort: pa,
    });
    // Binding an already-connected port again is refused.
    expect(code(() => hv.bindInterdomain(b, a, pa))).toBe('EINVAL');
  });

  it('marks the new local port pending on bind_interdomain', () => {
    const { hv, a, b } = host();
    const pa = hv.allocUnbound(a, b);
    const pb = hv.bindInterdomain(b, a, pa);
    expect(hv.status(b, pb).pending).toBe(true);
    expect(hv.status(a, pa).pending).toBe(false);
  });

  it('closing one end turns the peer into unbound naming the closer', () => {
    const { hv, a, b } = host();
    const pa = hv.allocUnbound(a, b);
    const pb = hv.bindInterdomain(b, a, pa);
    hv.close(a, pa);
    expect(hv.status(a, pa).state).toBe('closed');
    expect(hv.status(b, pb)).toMatchObject({ state: 'unbound', remoteDomid: a });
    // The peer's port is now offered to a again, so a can reconnect to it.
    const again = hv.bindInterdomain(a, b, pb);
    expect(hv.status(b, pb)).toMatchObject({ state: 'interdomain', remotePort: again });
  });

  it('close of a free, reserved or out-of-range port is EINVAL', () => {
    const { hv, a } = host();
    expect(code(() => hv.close(a, 0))).toBe('EINVAL');
    expect(code(() => hv.close(a, 5))).toBe('EINVAL');
    expect(code(() => hv.close(a, 64))).toBe('EINVAL');
    expect(code(() => hv.close(a, -1))).toBe('EINVAL');
  });

  it('send: interdomain raises the peer, ipi raises itself, unbound drops, virq refuses', () => {
    const { hv, a, b } = host();
    const pa = hv.allocUnbound(a, b);
    hv.send(a, pa);
    expect(hv.status(a, pa).pending).toBe(false);
    const pb = hv.bindInterdomain(b, a, pa);
    hv.send(b, pb);
    expect(hv.status(a, pa).pending).toBe(true);
    const ipi = hv.bindIpi(a);
    hv.send(a, ipi);
    expect(hv.status(a, ipi)).toMatchObject({ state: 'ipi', pending: true });
    const virq = hv.bindVirq(a, Virq.CONSOLE);
    expect(code(() => hv.send(a, virq))).toBe('EINVAL');
    expect(code(() => hv.send(a, 40))).toBe('EINVAL');
  });

  it('bind_virq: one port per virq, range checked, freed by close', () => {
    const { hv, a } = host();
    const port = hv.bindVirq(a, Virq.DEBUG);
    expect(hv.status(a, port)).toMatchObject({ state: 'virq', virq: Virq.DEBUG });
    expect(code(() => hv.bindVirq(a, Virq.DEBUG))).toBe('EEXIST');
    expect(code(() => hv.bindVirq(a, 24))).toBe('EINVAL');
    hv.raiseVirq(a, Virq.DEBUG);
    expect(hv.status(a, port).pending).toBe(true);
    hv.close(a, port);
    expect(hv.bindVirq(a, Virq.DEBUG)).toBe(port);
    expect(hv.status(a, port).pending).toBe(false);
  });

  it('runs out of ports with ENOSPC and reset frees them all', () => {
    const { hv, a, b } = host();
    for (let i = 1; i < 64; i++) hv.allocUnbound(a, b);
    expect(code(() => hv.allocUnbound(a, b))).toBe('ENOSPC');
    hv.reset(a);
    expect(hv.allocUnbound(a, b)).toBe(1);
  });

  it('2-level delivery: a masked pending port stays pending until unmasked', () => {
    const { hv, a, b } = host();
    const pa = hv.allocUnbound(a, b);
    const pb = hv.bindInterdomain(b, a, pa);
    hv.mask(a, pa);
    hv.send(b, pb);
    expect(hv.status(a, pa)).toMatchObject({ pending: true, masked: true });
    hv.unmask(a, pa);
    expect(hv.status(a, pa)).toMatchObject({ pending: true, masked: false });
    expect(code(() => hv.unmask(a, 64))).toBe('EINVAL');
  });

  it('refuses a buffer that is not a hypervisor', () => {
    expect(code(() => SimulatedHypervisor.fromShared(new SharedArrayBuffer(64)))).toBe('EINVAL');
    const { hv } = host();
    const twin = SimulatedHypervisor.fromShared(hv.buffer);
    expect(twin.domains()).toEqual(hv.domains());
  });
});
