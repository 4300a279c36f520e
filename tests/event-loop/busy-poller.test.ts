import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BusyPoller, SPIN_BUDGET_MS } from '../../src/event-loop/busy-poller.ts';

/** Immediates queued in this process right now. */
const immediates = () => process.getActiveResourcesInfo().filter((r) => r === 'Immediate').length;
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** The poller's clock, moved by hand so that the budget runs out exactly when a test says. */
let now = 0;
beforeEach(() => {
  now = 1000;
  vi.spyOn(performance, 'now').mockImplementation(() => now);
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** A poller whose `outstanding` callback counts how often it is consulted. */
function observed(mode: boolean | 'adaptive') {
  const state = { outstanding: 0, consulted: 0 };
  const poller = new BusyPoller(mode, () => {
    state.consulted++;
    return state.outstanding;
  });
  return { state, poller };
}

describe('BusyPoller', () => {
  it('keeps the loop turning while an answer is outstanding, until the budget runs out', async () => {
    const { state, poller } = observed(true);
    state.outstanding = 1;
    poller.expect();
    const start = state.consulted;
    for (let i = 0; i < 10; i++) await turn();
    // One consultation per turn of the loop, with no answer in between.
    expect(state.consulted - start).toBeGreaterThanOrEqual(9);
    expect(immediates()).toBe(1);
    now += SPIN_BUDGET_MS * 1.01;
    await turn();
    await turn();
    expect(immediates()).toBe(0);
    const turns = state.consulted;
    await sleep(5);
    expect(state.consulted).toBe(turns);
  });

  it('counts the budget from the latest answer', async () => {
    const { state, poller } = observed(true);
    state.outstanding = 2;
    poller.expect();
    now += SPIN_BUDGET_MS * 0.9;
    state.outstanding = 1;
    poller.arrived();
    now += SPIN_BUDGET_MS * 0.9;
    await turn();
    await turn();
    expect(immediates()).toBe(1);
    state.outstanding = 0;
  });

  it('starts a fresh spin when an answer comes after it gave up', async () => {
    const { state, poller } = observed(true);
    state.outstanding = 2;
    poller.expect();
    now += SPIN_BUDGET_MS * 2;
    await turn();
    await turn();
    expect(immediates()).toBe(0);
    state.outstanding = 1;
    poller.arrived();
    expect(immediates()).toBe(1);
    state.outstanding = 0;
  });

  it('stops as soon as nothing is outstanding', async () => {
    const { state, poller } = observed(true);
    state.outstanding = 1;
    poller.expect();
    state.outstanding = 0;
    poller.arrived();
    await turn();
    await turn();
    expect(immediates()).toBe(0);
  });

  it('never spins when told not to', async () => {
    const { state, poller } = observed(false);
    state.outstanding = 1;
    poller.expect();
    poller.arrived();
    expect(immediates()).toBe(0);
    await sleep(5);
    expect(state.consulted).toBe(0);
  });

  it('when adaptive, spins first, then sleeps once sleeping has measured clearly quicker', async () => {
    const { state, poller } = observed('adaptive');
    const exchange = async (gap: number) => {
      state.outstanding = 1;
      poller.expect();
      now += gap;
      state.outstanding = 0;
      poller.arrived();
      await turn();
    };
    state.outstanding = 1;
    poller.expect();
    expect(immediates()).toBe(1);
    state.outstanding = 0;
    poller.arrived();
    for (let i = 1; i < 64; i++) await exchange(0.05);
    for (let i = 0; i < 64; i++) await exchange(0.01);
    state.outstanding = 1;
    poller.expect();
    expect(immediates()).toBe(0);
    state.outstanding = 0;
  });
});
