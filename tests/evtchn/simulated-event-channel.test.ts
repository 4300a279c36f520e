import { describe, expect, it } from 'vitest';
import { SimulatedHypervisor, Virq } from '../../src/evtchn/index.ts';
import { code } from './support/error-code.ts';

function pair() {
  const hv = SimulatedHypervisor.create({ maxDomains: 4, portsPerDomain: 64 });
  const a = hv.openEventChannel(hv.createDomain());
  const b = hv.openEventChannel(hv.createDomain());
  const pa = a.bindUnboundPort(b.domid);
  const pb = b.bindInterdomain(a.domid, pa);
  // bind_interdomain leaves the new port pending; start each test from a quiet channel.
  expect(b.takePending()).toEqual([pb]);
  b.unmask(pb);
  return { hv, a, b, pa, pb };
}

describe('SimulatedEventChannel', () => {
  it('reports a notified port once, masked, and again after unmask', () => {
    const { hv, a, b, pa, pb } = pair();
    b.notify(pb);
    expect(a.takePending()).toEqual([pa]);
    expect(hv.status(a.domid, pa)).toMatchObject({ pending: false, masked: true });
    b.notify(pb);
    b.notify(pb);
    expect(a.takePending()).toEqual([]);
    a.unmask(pa);
    expect(a.takePending()).toEqual([pa]);
  });

  it('delivers through the pending event and the async iterator', async () => {
    const { a, b, pa, pb } = pair();
    const heard: number[] = [];
    const listener = (port: number) => heard.push(port);
    a.on('pending', listener);
    const iterator = a.pending();
    b.notify(pb);
    const first = await iterator.next();
    expect(first).toEqual({ value: pa, done: false });
    expect(heard).toEqual([pa]);
    a.off('pending', listener);
    a.unmask(pa);
    b.notify(pb);
    expect(await iterator.next()).toEqual({ value: pa, done: false });
    await a[Symbol.asyncDispose]();
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    expect(heard).toEqual([pa]);
  });

  it('for-await ends when the handle is closed', async () => {
    const { a, b, pa, pb } = pair();
    const seen: number[] = [];
    let delivered = () => {};
    const loop = (async () => {
      for await (const port of a) {
        seen.push(port);
        if (seen.length === 3) a.close();
        else a.unmask(port);
        delivered();
      }
    })();
    for (let i = 0; i < 3; i++) {
      // Notifications coalesce while a port is pending, so wait for each to be seen.
      const seenOne = new Promise<void>((resolve) => {
        delivered = resolve;
      });
      b.notify(pb);
      await seenOne;
    }
    await loop;
    expect(seen).toEqual([pa, pa, pa]);
  });

  it('coalesces notifications sent while a port is already pending', () => {
    const { a, b, pa, pb } = pair();
    b.notify(pb);
    b.notify(pb);
    expect(a.takePending()).toEqual([pa]);
    a.unmask(pa);
    expect(a.takePending()).toEqual([]);
  });

  it('rejects misuse with errno codes', () => {
    const { hv, a, b, pa, pb } = pair();
    const c = hv.openEventChannel(hv.createDomain());
    expect(code(() => a.notify(pb + 10))).toBe('ENOTCONN');
    expect(code(() => c.notify(pa))).toBe('ENOTCONN');
    expect(code(() => a.unmask(33))).toBe('ENOTCONN');
    expect(code(() => a.notify(-1))).toBe('EINVAL');
    expect(code(() => a.bindInterdomain(b.domid, 3))).toBe('EINVAL');
    expect(code(() => a.bindVirq(99))).toBe('EINVAL');
    expect(code(() => a.bindUnboundPort(-2))).toBe('EINVAL');
    a.bindVirq(Virq.CONSOLE);
    expect(code(() => c.bindVirq(Virq.CONSOLE))).toBeUndefined();
    expect(code(() => a.bindVirq(Virq.CONSOLE))).toBe('EEXIST');
    a.unbind(pa);
    expect(code(() => a.unbind(pa))).toBe('ENOTCONN');
    expect(hv.status(b.domid, pb)).toMatchObject({ state: 'unbound', remoteDomid: a.domid });
    a.close();
    expect(code(() => a.close())).toBe('EBADF');
    expect(code(() => a.notify(pa))).toBe('EBADF');
    expect(code(() => a.bindUnboundPort(0))).toBe('EBADF');
    expect(code(() => a.pending())).toBe('EBADF');
  });

  it('restrict limits binds to one domain', () => {
    const { hv, a, b } = pair();
    const c = hv.createDomain();
    expect(code(() => b.restrict(0))).toBe('EINVAL');
    b.restrict(a.domid);
    expect(code(() => b.restrict(a.domid))).toBe('EACCES');
    expect(code(() => b.bindVirq(Virq.CONSOLE))).toBe('EACCES');
    expect(code(() => b.bindUnboundPort(a.domid))).toBe('EACCES');
    const fromC = hv.allocUnbound(c, b.domid);
    expect(code(() => b.bindInterdomain(c, fromC))).toBe('EACCES');
    const fromA = a.bindUnboundPort(b.domid);
    expect(b.bindInterdomain(a.domid, fromA)).toBeGreaterThan(0);
  });

  it('close unbinds every port of the handle', () => {
    const { hv, a, b, pa, pb } = pair();
    b.close();
    expect(hv.status(b.domid, pb).state).toBe('closed');
    expect(hv.status(a.domid, pa)).toMatchObject({ state: 'unbound', remoteDomid: b.domid });
  });

  it('only the handle that bound a port receives it', () => {
    const { hv, a, b, pa, pb } = pair();
    const other = hv.openEventChannel(a.domid);
    b.notify(pb);
    expect(other.takePending()).toEqual([]);
    expect(a.takePending()).toEqual([pa]);
  });

  it('ends delivery with ESRCH when its domain is destroyed', async () => {
    const { hv, a } = pair();
    const iterator = a.pending();
    const next = iterator.next();
    hv.destroyDomain(a.domid);
    await expect(next).rejects.toMatchObject({ code: 'ESRCH' });
  });

  it('waitPending returns what is pending and times out to []', () => {
    const { a, b, pa, pb } = pair();
    b.notify(pb);
    expect(a.waitPending(1000)).toEqual([pa]);
    expect(a.waitPending(1)).toEqual([]);
  });
});
