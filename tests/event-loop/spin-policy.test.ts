import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SpinPolicy } from '../../src/event-loop/spin-policy.ts';

const gaps = fc.array(fc.double({ min: 0.001, max: 10, noNaN: true }), {
  minLength: SpinPolicy.PROBE,
  maxLength: SpinPolicy.PROBE,
});
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

describe('SpinPolicy', () => {
  it('probes spinning, then sleeping, then follows the way with the clearly shorter gaps', () => {
    fc.assert(
      fc.property(gaps, gaps, (spun, slept) => {
        const policy = new SpinPolicy();
        for (const gap of spun) {
          expect(policy.spinning).toBe(true);
          policy.record(gap);
        }
        for (const gap of slept) {
          expect(policy.spinning).toBe(false);
          policy.record(gap);
        }
        expect(policy.spinning).toBe(mean(spun) <= SpinPolicy.MARGIN * mean(slept));
        expect(policy.measuring).toBe(false);
      }),
    );
  });

  it('keeps its choice for a stretch, then probes again', () => {
    const policy = new SpinPolicy();
    for (let i = 0; i < SpinPolicy.PROBE; i++) policy.record(1);
    for (let i = 0; i < SpinPolicy.PROBE; i++) policy.record(4);
    for (let i = 0; i < SpinPolicy.STRETCH; i++) {
      expect(policy.spinning).toBe(true);
      policy.record(100);
    }
    expect(policy.measuring).toBe(true);
    // A new round: spinning first, now measured slower than sleeping, so sleeping is followed.
    for (let i = 0; i < SpinPolicy.PROBE; i++) policy.record(5);
    expect(policy.spinning).toBe(false);
    for (let i = 0; i < SpinPolicy.PROBE; i++) policy.record(2);
    expect(policy.spinning).toBe(false);
  });

  it('sleeps when spinning is only marginally quicker', () => {
    const policy = new SpinPolicy();
    for (let i = 0; i < SpinPolicy.PROBE; i++) policy.record(0.95);
    for (let i = 0; i < SpinPolicy.PROBE; i++) policy.record(1);
    expect(policy.spinning).toBe(false);
  });
});
