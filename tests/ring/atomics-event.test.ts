import { describe, expect, it } from 'vitest';
import { AtomicsEvent, type Futex } from '../../src/ring/index.ts';

describe('AtomicsEvent', () => {
  it('remembers a signal sent before the wait, like a pending event channel', () => {
    const event = new AtomicsEvent(new SharedArrayBuffer(AtomicsEvent.BYTES));
    const seen = event.snapshot();
    event.signal();
    expect(event.wait(seen, 0)).toBe(true);
    expect(event.wait(event.snapshot(), 1)).toBe(false);
  });

  it('lives at an offset without touching its neighbours', () => {
    const buffer = new SharedArrayBuffer(4 + AtomicsEvent.BYTES + 4);
    const words = new Int32Array(buffer);
    words.fill(7);
    const event = new AtomicsEvent(buffer, 4);
    words[1] = 0;
    words[2] = 0;
    event.signal();
    expect([words[0], words[3]]).toEqual([7, 7]);
    expect(event.snapshot()).toBe(1);
  });

  it('sleeps on a futex when given one, and only a changed count ends the wait', () => {
    const buffer = new SharedArrayBuffer(AtomicsEvent.BYTES);
    const calls: string[] = [];
    let wakes = 0;
    const futex: Futex = {
      futexWait: (_words, index, value) => {
        calls.push(`wait ${index} ${value}`);
        // The first return is spurious; during the second sleep the peer signals.
        if (calls.length === 2) peer.signal();
        return 'ok';
      },
      futexWake: (_words, index) => {
        calls.push(`wake ${index}`);
        wakes++;
        return 1;
      },
    };
    const event = new AtomicsEvent(buffer, 0, futex);
    const peer = new AtomicsEvent(buffer, 0, futex);
    peer.signal(); // nobody asleep: no system call
    expect(calls).toEqual([]);
    expect(event.wait(event.snapshot())).toBe(true);
    expect(calls).toEqual(['wait 0 1', 'wait 0 1', 'wake 0']);
    expect(wakes).toBe(1);
    peer.signal(); // the sleeper is gone again
    expect(wakes).toBe(1);
  });

  it('gives up a futex wait after its timeout', () => {
    const futex: Futex = { futexWait: () => 'timed-out', futexWake: () => 0 };
    const event = new AtomicsEvent(new SharedArrayBuffer(AtomicsEvent.BYTES), 0, futex);
    expect(event.wait(event.snapshot(), 1)).toBe(false);
    const seen = event.snapshot();
    event.signal();
    expect(event.wait(seen, 0)).toBe(true);
  });
});
