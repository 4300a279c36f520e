import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WatchQueue } from '../../src/xenstore/client/watch-queue.ts';

describe('watch event queue', () => {
  it('keeps order while there is room', () => {
    const queue = new WatchQueue(4);
    for (const path of ['/a', '/b', '/a']) queue.push(path);
    expect([queue.shift(), queue.shift(), queue.shift(), queue.shift()]).toEqual([
      { path: '/a', overflowed: false },
      { path: '/b', overflowed: false },
      { path: '/a', overflowed: false },
      undefined,
    ]);
  });

  it('when full, absorbs paths already queued, then drops the oldest and flags the next', () => {
    const queue = new WatchQueue(2);
    queue.push('/a');
    queue.push('/b');
    queue.push('/a');
    expect([queue.size, queue.dropped]).toEqual([2, 0]);
    queue.push('/c');
    expect([queue.size, queue.dropped]).toEqual([2, 1]);
    expect(queue.shift()).toEqual({ path: '/b', overflowed: true });
    expect(queue.shift()).toEqual({ path: '/c', overflowed: false });
  });

  it('never holds more than its capacity and hands out what a bounded FIFO would', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.oneof(fc.constantFrom('/a', '/b', '/c', '/d', '/e'), fc.constant(null)), {
          maxLength: 200,
        }),
        (capacity, script) => {
          const queue = new WatchQueue(capacity);
          const model: string[] = [];
          for (const step of script) {
            if (step === null) {
              expect(queue.shift()?.path).toBe(model.shift());
            } else {
              queue.push(step);
              if (model.length < capacity) model.push(step);
              else if (!model.includes(step)) {
                model.shift();
                model.push(step);
              }
            }
            expect(queue.size).toBe(model.length);
            expect(queue.size).toBeLessThanOrEqual(capacity);
          }
        },
      ),
    );
  });
});
