import { describe, expect, it } from 'vitest';
import { FLOOR_PAIR, floorRates, withFloorFractions } from '../../bench/lib/floor.ts';
import type { MeasuredPair } from '../../bench/lib/outcome.ts';
import { measured, skipped } from './fixtures.ts';

const flat = { min: 1, max: 1 };

describe('floorRates', () => {
  it('reads the socket floor from the floor pair’s baseline and the ring floor from its candidate', () => {
    // measured() gives the baseline 1000/s and the candidate 1000 × the median ratio.
    expect(floorRates([measured(FLOOR_PAIR, { median: 2, ...flat })])).toEqual({
      socket: 1000,
      ring: 2000,
    });
  });

  it('knows no floor when the floor pair did not run', () => {
    expect(floorRates([skipped(FLOOR_PAIR, 'no gcc')])).toEqual({});
    expect(floorRates([])).toEqual({});
  });
});

describe('withFloorFractions', () => {
  const pair = (floor: MeasuredPair['floor']): MeasuredPair => ({
    ...measured('xenstore.x', { median: 0.5, ...flat }),
    ...(floor ? { floor } : {}),
  });

  it('counts round trips, so an op of two round trips counts twice', () => {
    const [txn] = withFloorFractions([pair({ medium: 'socket', roundTripsPerOp: 2 })], {
      socket: 4000,
    });
    expect(txn).toMatchObject({ ofFloor: { floorRate: 4000, baseline: 0.5, candidate: 0.25 } });
  });

  it('compares each side with the floor over its own medium', () => {
    const [ring] = withFloorFractions(
      [pair({ medium: 'ring', baselineMedium: 'socket', roundTripsPerOp: 1 })],
      { socket: 2000, ring: 5000 },
    );
    expect(ring).toMatchObject({ ofFloor: { floorRate: 5000, baseline: 0.5, candidate: 0.1 } });
  });

  it('leaves alone pairs without a floor, skipped pairs, and pairs whose floor is missing', () => {
    const none = pair(undefined);
    const missing = pair({ medium: 'ring', roundTripsPerOp: 1 });
    const notRun = skipped('xenstore.y', 'no daemon');
    expect(withFloorFractions([none, missing, notRun], { socket: 1000 })).toEqual([
      none,
      missing,
      notRun,
    ]);
  });
});
