import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IN_PLACE_STREAK_MS, InPlaceWaits } from '../../src/event-loop/in-place-wait.ts';

const turn = () => new Promise((resolve) => setImmediate(resolve));

/** The clock, moved by hand so that a run of waits lasts exactly as long as a test says. */
let now = 0;
beforeEach(() => {
  now = 1000;
  vi.spyOn(performance, 'now').mockImplementation(() => now);
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Waits that `begin` allows out of `count`, each ending as `answered` says. */
function allowed(waits: InPlaceWaits, count: number, answered = true): number {
  let yes = 0;
  for (let i = 0; i < count; i++) {
    if (!waits.begin()) continue;
    yes++;
    waits.end(answered);
  }
  return yes;
}

describe('InPlaceWaits', () => {
  it('lets waits follow one another for a while, then not until the loop has turned', async () => {
    const waits = new InPlaceWaits();
    expect(allowed(waits, 100)).toBe(100);
    now += IN_PLACE_STREAK_MS * 0.9;
    expect(waits.begin()).toBe(true);
    waits.end(true);
    now += IN_PLACE_STREAK_MS * 0.2;
    expect(waits.begin()).toBe(false);
    expect(waits.begin()).toBe(false);
    await turn();
    // A new run from the turn on, with its own allowance.
    expect(waits.begin()).toBe(true);
    waits.end(true);
    now += IN_PLACE_STREAK_MS * 0.9;
    expect(waits.begin()).toBe(true);
  });

  it('stops waiting in place after misses in a row, for longer while they go on', () => {
    const waits = new InPlaceWaits();
    // One miss between answers changes nothing.
    for (let i = 0; i < 10; i++) {
      expect(waits.begin()).toBe(true);
      waits.end(i % 2 === 1);
    }
    expect(allowed(waits, 2, false)).toBe(2);
    // Refused for the next 256, then one is tried again.
    expect(allowed(waits, 256)).toBe(0);
    expect(waits.begin()).toBe(true);
    waits.end(false);
    expect(waits.begin()).toBe(true);
    waits.end(false);
    expect(allowed(waits, 512)).toBe(0);
    expect(waits.begin()).toBe(true);
    // An answer in place brings the pause back to its first length.
    waits.end(true);
    expect(allowed(waits, 2, false)).toBe(2);
    expect(allowed(waits, 256)).toBe(0);
    expect(waits.begin()).toBe(true);
    waits.end(true);
  });

  it('lets no wait start while held, until every hold is released', () => {
    const waits = new InPlaceWaits();
    const first = waits.hold();
    const second = waits.hold();
    expect(waits.begin()).toBe(false);
    first();
    first();
    expect(waits.begin()).toBe(false);
    second();
    expect(waits.begin()).toBe(true);
  });
});
