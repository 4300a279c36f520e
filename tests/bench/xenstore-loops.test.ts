import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runClientLoop } from '../../bench/lib/client-loop.ts';
import { startMockXenstored, type XenstoreDaemon } from '../../bench/lib/daemons.ts';
import { largeStoreNodes, WIDE_NODE } from '../../bench/lib/large-store.ts';
import { buildXsLoop, runXsLoop, type XsWorkload } from '../../bench/lib/xs-loop.ts';

/** The C loop needs gcc and the Xen packages; CI has both, so there a failure is an error. */
async function xsLoopOrSkip(): Promise<string | undefined> {
  try {
    return await buildXsLoop();
  } catch (error) {
    if (process.env.CI === 'true') throw error;
    console.warn(`*** SKIPPING the C benchmark loop: ${(error as Error).message}`);
    return undefined;
  }
}

const xsLoop = await xsLoopOrSkip();
const workloads: readonly [XsWorkload, number][] = [
  ['read', 16],
  ['write', 2000],
  ['directory', 16],
  ['txn-empty', 0],
  ['txn-rmw', 0],
  ['txn-conflict', 0],
  ['write-read', 16],
];

describe.skipIf(xsLoop === undefined)('the C and TypeScript benchmark loops', () => {
  let mock: XenstoreDaemon;
  let runs = 0;
  const base = () => `/bench/test/${++runs}`;

  beforeAll(async () => {
    mock = await startMockXenstored({ nodes: 1000, wideChildren: 300 });
  });

  afterAll(async () => {
    await mock?.stop();
  });

  it.each(workloads)(
    'both run %s to completion on the in-memory xenstored',
    async (workload, size) => {
      const c = await runXsLoop(xsLoop!, mock.socketPath, {
        workload,
        ops: 20,
        size,
        base: base(),
      });
      const ts = await runClientLoop(mock.socketPath, { workload, ops: 20, size, base: base() });
      expect(c.rate).toBeGreaterThan(0);
      expect(ts.rate).toBeGreaterThan(0);
    },
  );

  it('pipelines reads and writes only', async () => {
    const read = await runClientLoop(mock.socketPath, {
      workload: 'read',
      ops: 100,
      size: 16,
      base: base(),
      inFlight: 8,
    });
    expect(read.rate).toBeGreaterThan(0);
    await expect(
      runClientLoop(mock.socketPath, {
        workload: 'txn-empty',
        ops: 1,
        size: 0,
        base: base(),
        inFlight: 8,
      }),
    ).rejects.toThrow(/does not pipeline/);
  });

  it('both list the wide node of a preloaded store, checking every child is there', async () => {
    const run = { workload: 'list', ops: 2, size: 300, base: WIDE_NODE } as const;
    await runXsLoop(xsLoop!, mock.socketPath, run);
    await runClientLoop(mock.socketPath, run);
    await expect(runClientLoop(mock.socketPath, { ...run, size: 299 })).rejects.toThrow(
      /listed 300 of 299/,
    );
  });
});

describe('largeStoreNodes', () => {
  it('has the requested leaves, the wide ones under the wide node', () => {
    const nodes = largeStoreNodes({ nodes: 2500, wideChildren: 500 });
    expect(nodes).toHaveLength(2500);
    expect(nodes.filter((n) => n.path.startsWith(`${WIDE_NODE}/`))).toHaveLength(500);
    expect(new Set(nodes.map((n) => n.path)).size).toBe(2500);
  });
});
