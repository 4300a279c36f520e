import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { median, medianOfEach, pairedRatios, pairedRatiosOfEach } from '../../bench/lib/stats.ts';

describe('median', () => {
  it('takes the middle value of an odd count and the mean of the middle two of an even one', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('rejects an empty list', () => {
    expect(() => median([])).toThrow(RangeError);
  });

  it('lies between the smallest and the largest value', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ noNaN: true, min: -1e9, max: 1e9 }), { minLength: 1 }),
        (values) => {
          const m = median(values);
          return m >= Math.min(...values) && m <= Math.max(...values);
        },
      ),
    );
  });
});

describe('pairedRatios', () => {
  it('divides each candidate rate by the baseline rate of the same pair', () => {
    const summary = pairedRatios([100, 200, 50], [150, 200, 100]);
    expect(summary.samples).toEqual([1.5, 1, 2]);
    expect(summary).toMatchObject({ median: 1.5, min: 1, max: 2 });
  });

  it('cancels a drift that slows both sides alike', () => {
    const summary = pairedRatios([100, 50, 25], [200, 100, 50]);
    expect(summary).toMatchObject({ median: 2, min: 2, max: 2 });
  });

  it('needs as many candidate runs as baseline runs', () => {
    expect(() => pairedRatios([1, 2], [1])).toThrow(RangeError);
    expect(() => pairedRatios([], [])).toThrow(RangeError);
  });
});

describe('medianOfEach', () => {
  it('takes the median of each figure over the runs that report it', () => {
    expect(medianOfEach([{ a: 1, b: 10 }, undefined, { a: 3 }, { a: 2 }])).toEqual({ a: 2, b: 10 });
  });
});

describe('pairedRatiosOfEach', () => {
  it('pairs each figure run by run, as rates are', () => {
    const ratios = pairedRatiosOfEach(
      [
        { client: 10, daemon: 4 },
        { client: 20, daemon: 4 },
      ],
      [
        { client: 15, daemon: 2 },
        { client: 20, daemon: 8 },
      ],
    );
    expect(ratios['client']).toMatchObject({ samples: [1.5, 1], min: 1, max: 1.5 });
    expect(ratios['daemon']).toMatchObject({ samples: [0.5, 2], median: 1.25 });
  });

  it('leaves out a figure that some run of either side lacks', () => {
    const ratios = pairedRatiosOfEach(
      [{ client: 1, daemon: 1 }, { client: 1 }],
      [
        { client: 2, daemon: 2 },
        { client: 2, daemon: 2 },
      ],
    );
    expect(Object.keys(ratios)).toEqual(['client']);
    expect(pairedRatiosOfEach([undefined], [{ client: 1 }])).toEqual({});
  });
});
