import { describe, expect, it } from 'vitest';
import { AtomicsEvent } from '../../src/ring/index.ts';

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
});
