import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulatedHost, type SimulatedHost } from '../../src/host/index.ts';

/**
 * Random batches of writes and reads of random sizes, all in flight at once over one guest's
 * ring: whatever the cut of messages against the 1024-byte rings and their wrap, every reply is
 * whole and answers its own request (checked against a plain map of what was written).
 */
describe('ring transport, random traffic', () => {
  let host: SimulatedHost;
  beforeAll(async () => {
    // Large values are over the guest's 2048-byte node limit: let the guest be privileged.
    host = await createSimulatedHost({ guests: 1, server: { privilegedDomid: 1 } });
  });
  afterAll(async () => {
    await host?.close();
  });

  it('keeps every message whole and matched', async () => {
    const op = fc.record({
      key: fc.integer({ min: 0, max: 7 }),
      size: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 900, max: 4000 })),
      fill: fc.integer({ min: 0x21, max: 0x7e }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 24 }), async (ops) => {
        const xs = host.guest(1).client;
        const model = new Map<number, string>();
        const writes = ops.map(({ key, size, fill }) => {
          const value = String.fromCharCode(fill).repeat(size);
          model.set(key, value);
          return xs.write(`/p/${key}`, value);
        });
        await Promise.all(writes);
        const keys = [...model.keys()];
        const read = await Promise.all(keys.map((key) => xs.readString(`/p/${key}`)));
        expect(read).toEqual(keys.map((key) => model.get(key)));
        await xs.rm('/p');
      }),
      { numRuns: 200 },
    );
  });
});
