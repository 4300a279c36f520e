import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimulatedHypervisor } from '../../src/evtchn/index.ts';

/**
 * The device-style delivery contract on random sequences: a port fires once per burst of
 * notifications, is masked when reported, and fires again on unmask if notified meanwhile.
 */
type Side = 'a' | 'b';
type Step = { op: 'notify' | 'take' | 'unmask'; side: Side };

const step: fc.Arbitrary<Step> = fc.record({
  op: fc.constantFrom('notify', 'take', 'unmask'),
  side: fc.constantFrom('a', 'b'),
});

describe('event delivery against a model', () => {
  it('reports exactly what the pending/mask model predicts', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 80 }), (steps) => {
        const hv = SimulatedHypervisor.create({ maxDomains: 3, portsPerDomain: 32 });
        const handles = {
          a: hv.openEventChannel(hv.createDomain()),
          b: hv.openEventChannel(hv.createDomain()),
        };
        const ports = { a: handles.a.bindUnboundPort(handles.b.domid), b: 0 };
        ports.b = handles.b.bindInterdomain(handles.a.domid, ports.a);
        // bind_interdomain leaves b's port pending.
        const model = { a: { pending: false, masked: false }, b: { pending: true, masked: false } };
        for (const { op, side } of steps) {
          const other: Side = side === 'a' ? 'b' : 'a';
          if (op === 'notify') {
            handles[side].notify(ports[side]);
            model[other].pending = true;
          } else if (op === 'unmask') {
            handles[side].unmask(ports[side]);
            model[side].masked = false;
          } else {
            const state = model[side];
            const expected = state.pending && !state.masked ? [ports[side]] : [];
            if (expected.length > 0) {
              state.pending = false;
              state.masked = true;
            }
            expect(handles[side].takePending()).toEqual(expected);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
