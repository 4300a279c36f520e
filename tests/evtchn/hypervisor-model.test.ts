import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EvtchnError, type PortStatus, SimulatedHypervisor } from '../../src/evtchn/index.ts';

/**
 * A deliberately naive model of the event-channel rules (maps instead of shared bitmaps), run
 * side by side with the simulation on random operation sequences.
 */
type ModelPort =
  | { state: 'unbound'; remoteDomid: number }
  | { state: 'interdomain'; remoteDomid: number; remotePort: number }
  | { state: 'virq'; virq: number }
  | { state: 'ipi' };

const PORTS = 4;
const DOMAINS = [0, 1, 2];

class Model {
  readonly ports = new Map<number, Map<number, ModelPort>>(DOMAINS.map((d) => [d, new Map()]));
  readonly pending = new Set<string>();
  readonly masked = new Set<string>();

  #table(domid: number) {
    return this.ports.get(domid)!;
  }

  #alloc(domid: number): number {
    for (let port = 1; port < PORTS; port++) {
      if (!this.#table(domid).has(port)) {
        this.pending.delete(`${domid}:${port}`);
        this.masked.delete(`${domid}:${port}`);
        return port;
      }
    }
    throw new EvtchnError('ENOSPC', 'full');
  }

  #raise(domid: number, port: number): void {
    this.pending.add(`${domid}:${port}`);
  }

  allocUnbound(domid: number, remote: number): number {
    const port = this.#alloc(domid);
    this.#table(domid).set(port, { state: 'unbound', remoteDomid: remote });
    return port;
  }

  bindInterdomain(domid: number, remote: number, remotePort: number): number {
    const port = this.#alloc(domid);
    const peer = this.#table(remote).get(remotePort);
    if (peer?.state !== 'unbound' || peer.remoteDomid !== domid) {
      throw new EvtchnError('EINVAL', 'not offered');
    }
    this.#table(domid).set(port, { state: 'interdomain', remoteDomid: remote, remotePort });
    this.#table(remote).set(remotePort, {
      state: 'interdomain',
      remoteDomid: domid,
      remotePort: port,
    });
    this.#raise(domid, port);
    return port;
  }

  bindVirq(domid: number, virq: number): number {
    for (const entry of this.#table(domid).values()) {
      if (entry.state === 'virq' && entry.virq === virq) throw new EvtchnError('EEXIST', 'bound');
    }
    const port = this.#alloc(domid);
    this.#table(domid).set(port, { state: 'virq', virq });
    return port;
  }

  bindIpi(domid: number): number {
    const port = this.#alloc(domid);
    this.#table(domid).set(port, { state: 'ipi' });
    return port;
  }

  close(domid: number, port: number): void {
    const entry = this.#table(domid).get(port);
    if (!entry) throw new EvtchnError('EINVAL', 'not bound');
    if (entry.state === 'interdomain') {
      this.#table(entry.remoteDomid).set(entry.remotePort, {
        state: 'unbound',
        remoteDomid: domid,
      });
    }
    this.#table(domid).delete(port);
    this.pending.delete(`${domid}:${port}`);
  }

  send(domid: number, port: number): void {
    const entry = this.#table(domid).get(port);
    if (entry?.state === 'interdomain') this.#raise(entry.remoteDomid, entry.remotePort);
    else if (entry?.state === 'ipi') this.#raise(domid, port);
    else if (entry?.state !== 'unbound') throw new EvtchnError('EINVAL', 'cannot send');
  }

  mask(domid: number, port: number): void {
    this.masked.add(`${domid}:${port}`);
  }

  unmask(domid: number, port: number): void {
    this.masked.delete(`${domid}:${port}`);
  }

  status(domid: number, port: number): PortStatus {
    const bits = {
      pending: this.pending.has(`${domid}:${port}`),
      masked: this.masked.has(`${domid}:${port}`),
    };
    return { ...(this.#table(domid).get(port) ?? { state: 'closed' }), ...bits } as PortStatus;
  }
}

type Op = { name: keyof Model & string; args: number[] };

const call =
  (name: Op['name']) =>
  (args: number[]): Op => ({ name, args });

const domid = fc.constantFrom(...DOMAINS);
const port = fc.integer({ min: 0, max: PORTS - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.tuple(domid, domid).map(call('allocUnbound')),
  fc.tuple(domid, domid, port).map(call('bindInterdomain')),
  fc.tuple(domid, fc.integer({ min: 0, max: 3 })).map(call('bindVirq')),
  domid.map((d) => call('bindIpi')([d])),
  fc.tuple(domid, port).map(call('close')),
  fc.tuple(domid, port).map(call('send')),
  fc.tuple(domid, fc.integer({ min: 1, max: PORTS - 1 })).map(call('mask')),
  fc.tuple(domid, fc.integer({ min: 1, max: PORTS - 1 })).map(call('unmask')),
);

function outcome(fn: () => unknown): unknown {
  try {
    return { ok: fn() ?? null };
  } catch (error) {
    if (!(error instanceof EvtchnError)) throw error;
    return { error: error.code };
  }
}

describe('simulated hypervisor against a model', () => {
  it('agrees on every result and every port state for random operation sequences', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 30, maxLength: 80 }), (ops) => {
        // 32 ports is the smallest table; the model only uses the first PORTS of them.
        const hv = SimulatedHypervisor.create({ maxDomains: 3, portsPerDomain: 32 });
        hv.createDomain(1);
        hv.createDomain(2);
        const model = new Model();
        const limited = (name: string, args: number[]) =>
          name === 'allocUnbound' ||
          name === 'bindInterdomain' ||
          name === 'bindVirq' ||
          name === 'bindIpi'
            ? model.ports.get(args[0]!)!.size >= PORTS - 1
            : false;
        for (const { name, args } of ops) {
          if (limited(name, args)) continue;
          const real = outcome(() =>
            (hv[name as keyof SimulatedHypervisor] as (...a: number[]) => unknown)(...args),
          );
          const expected = outcome(() =>
            (model[name] as (...a: number[]) => unknown).apply(model, args),
          );
          expect(real, `${name}(${args.join(', ')})`).toEqual(expected);
          for (const d of DOMAINS) {
            for (let p = 1; p < PORTS; p++) expect(hv.status(d, p)).toEqual(model.status(d, p));
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
