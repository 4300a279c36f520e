import { describe, expect, it } from 'vitest';
import { runStream, type StreamOptions } from '../../bench/ring/stream.ts';

/**
 * Producer and consumer in two worker threads over one SharedArrayBuffer, each waking the other
 * through a doorbell only when the ring's rules say so. A lost wake-up hangs the stream (the test
 * times out), a torn index or an early copy changes the hash. With XENWIRE_STRESS=1 each stream
 * runs for 10 s instead of a fixed count.
 */

const stress = process.env.XENWIRE_STRESS === '1';

function stream(workload: StreamOptions['workload'], count: number, messageSize: number) {
  const limit = stress ? { count: 1e12, durationMs: 10_000 } : { count };
  return runStream({ workload, messageSize, verify: true, ...limit });
}

describe('rings between two threads', () => {
  it('streams bytes through a xenstore page with the same hash at both ends', async () => {
    const r = await stream('bytes', 8 * 1024 * 1024 + 3, 333);
    expect(r.consumer.count).toBe(r.producer.count);
    expect(r.consumer.hash).toBe(r.producer.hash);
    if (!stress) expect(r.producer.count).toBe(8 * 1024 * 1024 + 3);
  }, 120_000);

  it('round-trips requests through a ring.h ring with far fewer doorbells than messages', async () => {
    const r = await stream('requests', 300_000, 64);
    expect(r.consumer.count).toBe(r.producer.count);
    expect(r.consumer.hash).toBe(r.producer.hash);
    if (!stress) expect(r.producer.count).toBe(300_000);
    const perMessage = (r.producer.notifications + r.consumer.notifications) / r.producer.count;
    expect(perMessage).toBeLessThan(1);
  }, 120_000);
});
