import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OnDemandMap } from '../../src/xenstore/server/on-demand-map.ts';

describe('OnDemandMap', () => {
  it('answers as a Map does after any sequence of sets, deletes and clears', () => {
    const operation = fc.oneof(
      fc.record({ op: fc.constant('set' as const), key: fc.nat(5), value: fc.integer() }),
      fc.record({ op: fc.constant('delete' as const), key: fc.nat(5) }),
      fc.record({ op: fc.constant('clear' as const) }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 30 }), (operations) => {
        const model = new Map<number, number>();
        const map = new OnDemandMap<number, number>();
        for (const step of operations) {
          if (step.op === 'set') {
            model.set(step.key, step.value);
            map.set(step.key, step.value);
          } else if (step.op === 'delete') {
            expect(map.delete(step.key)).toBe(model.delete(step.key));
          } else {
            model.clear();
            map.clear();
          }
          expect(map.size).toBe(model.size);
          expect([...map]).toEqual([...model]);
          expect([...map.values()]).toEqual([...model.values()]);
          for (let key = 0; key <= 5; key++) {
            expect(map.has(key)).toBe(model.has(key));
            expect(map.get(key)).toBe(model.get(key));
          }
        }
      }),
    );
  });
});
