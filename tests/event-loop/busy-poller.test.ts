import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LoopSpinner, SPIN_BUDGET_MS } from '../../src/event-loop/busy-poller.ts';

/** Immediates queued in this process right now. */
const immediates = () => process.getActiveResourcesInfo().filter((r) => r === 'Immediate').length;
const turn = () => new Promise((resolve) => setImmediate(resolve));
/** Two turns of the loop: a spin that is to stop has stopped by then. */
const settle = async () => {
  await turn();
  await turn();
};

/** The poller's clock, moved by hand so that the budget runs out exactly when a test says. */
let now = 0;
beforeEach(() => {
  now = 1000;
  vi.spyOn(performance, 'now').mockImplementation(() => now);
});
afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * A waiter on a fresh loop spinner, whose `outstanding` callback counts its consultations.
 * `sent(n)` and `answered(n)` report a request or an answer that leaves `n` outstanding.
 */
function observed(mode: boolean | 'adaptive', loop = new LoopSpinner()) {
  const state = { outstanding: 0, consulted: 0 };
  const poller = loop.waiter(mode, () => {
    state.consulted++;
    return state.outstanding;
  });
  return {
    state,
    poller,
    sent(outstanding: number) {
      state.outstanding = outstanding;
      poller.expect();
    },
    answered(outstanding: number) {
      state.outstanding = outstanding;
      poller.arrived();
    },
  };
}

describe('LoopSpinner', () => {
  it('keeps the loop turning while an answer is outstanding, until the budget runs out', async () => {
    const { state, sent } = observed(true);
    sent(1);
    const start = state.consulted;
    for (let i = 0; i < 10; i++) await turn();
    // One consultation per turn of the loop, with no answer in between.
    expect(state.consulted - start).toBeGreaterThanOrEqual(9);
    expect(immediates()).toBe(1);
    now += SPIN_BUDGET_MS * 1.01;
    await settle();
    expect(immediates()).toBe(0);
    const turns = state.consulted;
    await sleep(5);
    expect(state.consulted).toBe(turns);
  });

  it('counts the budget from the latest answer', async () => {
    const { state, sent, answered } = observed(true);
    sent(2);
    now += SPIN_BUDGET_MS * 0.9;
    answered(1);
    now += SPIN_BUDGET_MS * 0.9;
    await settle();
    expect(immediates()).toBe(1);
    state.outstanding = 0;
  });

  it('starts a fresh spin when an answer comes after it gave up', async () => {
    const { state, sent, answered } = observed(true);
    sent(2);
    now += SPIN_BUDGET_MS * 2;
    await settle();
    expect(immediates()).toBe(0);
    answered(1);
    expect(immediates()).toBe(1);
    state.outstanding = 0;
  });

  it('stops as soon as nothing is outstanding', async () => {
    const { sent, answered } = observed(true);
    sent(1);
    answered(0);
    await settle();
    expect(immediates()).toBe(0);
  });

  it('never spins when told not to', async () => {
    const { state, poller, sent } = observed(false);
    sent(1);
    poller.arrived();
    expect(immediates()).toBe(0);
    await sleep(5);
    expect(state.consulted).toBe(0);
  });

  it('when adaptive, spins first, then sleeps once sleeping has measured clearly quicker', async () => {
    const loop = new LoopSpinner();
    const { state, sent, answered } = observed('adaptive', loop);
    const exchange = async (gap: number) => {
      sent(1);
      now += gap;
      answered(0);
      await turn();
    };
    sent(1);
    expect(immediates()).toBe(1);
    answered(0);
    for (let i = 1; i < 64; i++) await exchange(0.05);
    for (let i = 0; i < 64; i++) await exchange(0.01);
    sent(1);
    expect(immediates()).toBe(0);
    // The choice belongs to the loop: another waiter on it sleeps too, unless told to spin.
    const other = observed('adaptive', loop);
    other.sent(1);
    expect(immediates()).toBe(0);
    const eager = observed(true, loop);
    eager.sent(1);
    expect(immediates()).toBe(1);
    state.outstanding = 0;
    other.state.outstanding = 0;
    eager.state.outstanding = 0;
    await turn();
    expect(immediates()).toBe(0);
  });

  it('spins for adaptive waiters only while one answer is awaited in the whole loop', async () => {
    const loop = new LoopSpinner();
    const a = observed('adaptive', loop);
    const b = observed('adaptive', loop);
    a.sent(1);
    expect(immediates()).toBe(1);
    b.sent(1);
    await settle();
    expect(immediates()).toBe(0);
    // b's answer leaves one awaited again: a one-at-a-time wait, worth a spin.
    b.answered(0);
    expect(immediates()).toBe(1);
    // Two awaited by one pipelining waiter count as two.
    a.sent(2);
    await settle();
    expect(immediates()).toBe(0);
    a.state.outstanding = 0;
  });
});
