import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenstoreClient } from '../../src/xenstore/client.ts';
import { XenstoreError } from '../../src/xenstore/errors.ts';
import { XenstorePool } from '../../src/xenstore/pool.ts';
import type { TransportConnector } from '../../src/xenstore/transport/transport.ts';
import { type RunningBackend, selectedBackends } from './backends.ts';
import { rejection, until } from './expectations.ts';

/** Wraps a connector to count the requests each connection it opens carries. */
function counting(connector: TransportConnector) {
  const perConnection: number[] = [];
  const wrapped: TransportConnector = async (handlers) => {
    const transport = await connector(handlers);
    const index = perConnection.push(0) - 1;
    return {
      send(message) {
        perConnection[index]!++;
        transport.send(message);
      },
      close: () => transport.close(),
    };
  };
  return { wrapped, perConnection };
}

type Op = { kind: 'write'; path: number; value: string } | { kind: 'rm' | 'read'; path: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('read' as const), path: fc.nat(2) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      path: fc.nat(2),
      value: fc.stringMatching(/^[a-z]{1,4}$/),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rm' as const), path: fc.nat(2) }) },
);

for (const backend of await selectedBackends()) {
  describe.skipIf(backend.unavailable !== undefined)(`pool against ${backend.name}`, () => {
    let server: RunningBackend;
    let root: string;
    let counter = 0;
    const fresh = (): string => `${root}/pool${counter++}`;

    beforeAll(async () => {
      server = await backend.start();
      root = `${server.root}-pool`;
      const xs = await XenstoreClient.connect({ transport: server.connector });
      await xs.rm(root);
      await xs.mkdir(root);
      await xs.close();
    });
    afterAll(async () => {
      const xs = await XenstoreClient.connect({ transport: server.connector }).catch(() => null);
      await xs?.rm(root).catch(() => {});
      await xs?.close();
      await server?.stop();
    });

    it('spreads reads in flight over every connection', async () => {
      const { wrapped, perConnection } = counting(server.connector);
      await using pool = await XenstorePool.connect({ transport: wrapped, size: 4 });
      const path = fresh();
      await pool.write(path, 'v');
      const values = await Promise.all(Array.from({ length: 400 }, () => pool.readString(path)));
      expect(values.every((v) => v === 'v')).toBe(true);
      expect(perConnection).toHaveLength(4);
      for (const carried of perConnection) expect(carried).toBeGreaterThanOrEqual(50);
    });

    it('lets every request see the changes sent before it, all in flight at once', async () => {
      await using pool = await XenstorePool.connect({ transport: server.connector, size: 3 });
      const base = fresh();
      await pool.mkdir(base);
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
          for (let p = 0; p < 3; p++) await pool.rm(`${base}/${p}`);
          // The model's value of each path after each op: a read may see its own state or any
          // later one, never an earlier one.
          const states: (string | null)[][] = [[null, null, null]];
          const sent = ops.map((o) => {
            const path = `${base}/${o.path}`;
            const next = [...states.at(-1)!];
            let reply: Promise<string | null>;
            if (o.kind === 'read') {
              reply = pool.readString(path).catch((error: XenstoreError) => {
                if (error.code !== 'ENOENT') throw error;
                return null;
              });
            } else if (o.kind === 'write') {
              next[o.path] = o.value;
              reply = pool.write(path, o.value).then(() => null);
            } else {
              next[o.path] = null;
              reply = pool.rm(path).then(() => null);
            }
            states.push(next);
            return reply;
          });
          const replies = await Promise.all(sent);
          ops.forEach((o, i) => {
            if (o.kind !== 'read') return;
            const possible = states.slice(i).map((state) => state[o.path]);
            expect(possible).toContain(replies[i]);
          });
        }),
        { numRuns: 40 },
      );
    });

    it('runs transactions with retries to an exact count', async () => {
      await using pool = await XenstorePool.connect({ transport: server.connector, size: 4 });
      const path = fresh();
      await pool.write(path, '0');
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          for (let i = 0; i < 25; i++) {
            await pool.transaction(async (tx) => {
              const n = Number(await tx.readString(path));
              await tx.write(path, String(n + 1));
            });
          }
        }),
      );
      expect(await pool.readString(path)).toBe('100');
    });

    it('delivers watch events for changes made through the pool', async () => {
      await using pool = await XenstorePool.connect({ transport: server.connector, size: 2 });
      const path = fresh();
      const watch = await pool.watch(path);
      const seen: string[] = [];
      watch.on('event', (event) => seen.push(event.path));
      await pool.write(`${path}/child`, 'x');
      await until(() => seen.includes(`${path}/child`));
      await watch.close();
    });

    it('rejects requests after close with ECONNRESET', async () => {
      const pool = await XenstorePool.connect({ transport: server.connector, size: 2 });
      await pool.close();
      expect((await rejection(pool.read(root))).code).toBe('ECONNRESET');
    });
  });
}

describe('pool set-up', () => {
  it('refuses sizes outside 1 … 64 with EINVAL', async () => {
    for (const size of [0, 65, 1.5, Number.NaN]) {
      const error = await rejection(XenstorePool.connect({ size, socketPath: '/nonexistent' }));
      expect(error.code).toBe('EINVAL');
    }
  });

  it('closes the connections it opened when another one fails', async () => {
    let opened = 0;
    let closed = 0;
    const connector: TransportConnector = async () => {
      if (++opened === 3) throw new XenstoreError('ECONNRESET', 'refused');
      return { send() {}, close: () => void closed++ };
    };
    const error = await rejection(XenstorePool.connect({ transport: connector, size: 4 }));
    expect(error.code).toBe('ECONNRESET');
    expect(closed).toBe(3);
  });
});
