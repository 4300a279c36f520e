import { once } from 'node:events';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runClientLoop } from '../../bench/lib/client-loop.ts';
import type { ClientLoopRun } from '../../bench/lib/client-workloads.ts';
import {
  startMockXenstored,
  startNullXenstored,
  type XenstoreDaemon,
} from '../../bench/lib/daemons.ts';
import { largeStoreNodes, WIDE_NODE } from '../../bench/lib/large-store.ts';
import { runLeastClient } from '../../bench/lib/least-client.ts';
import { buildXsLoop, runXsLoop } from '../../bench/lib/xs-loop.ts';
import { XenstoreClient } from '../../src/xenstore/index.ts';

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
const workloads: readonly [ClientLoopRun['workload'], number][] = [
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
    mock = await startMockXenstored({ large: { nodes: 1000, wideChildren: 300 } });
  });

  afterAll(async () => {
    await mock?.stop();
  });

  it.each(workloads)(
    'both run %s to completion on the in-memory xenstored, each in its own process',
    async (workload, size) => {
      const c = await runXsLoop(xsLoop!, mock, { workload, ops: 20, size, base: base() });
      const ts = await runClientLoop(mock, { workload, ops: 20, size, base: base() });
      for (const sample of [c, ts]) {
        expect(sample.rate).toBeGreaterThan(0);
        expect(Object.keys(sample.cpuPerOp ?? {}).sort()).toEqual(['client', 'daemon']);
        expect(sample.cpuPerOp?.client).toBeGreaterThan(0);
      }
    },
    60_000,
  );

  it('warms the TS client up on nodes of its own, and leaves none behind', async () => {
    const node = base();
    await runClientLoop(mock, { workload: 'write', ops: 10, size: 4, base: node, warmupOps: 5 });
    const client = await XenstoreClient.connect({ socketPath: mock.socketPath });
    try {
      const name = node.split('/').at(-1)!;
      const left = await client.directory('/bench/test');
      expect(left.filter((child) => child.startsWith(name))).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it('pipelines reads and writes only', async () => {
    const read = await runClientLoop(mock, {
      workload: 'read',
      ops: 100,
      size: 16,
      base: base(),
      inFlight: 8,
    });
    expect(read.rate).toBeGreaterThan(0);
    await expect(
      runClientLoop(mock, { workload: 'txn-empty', ops: 1, size: 0, base: base(), inFlight: 8 }),
    ).rejects.toThrow(
      /exited \(1\) in the middle of the handshake: RangeError: txn-empty does not pipeline$/,
    );
  });

  it('both list the wide node of a preloaded store, checking every child is there', async () => {
    const run = { workload: 'list', ops: 2, size: 300, base: WIDE_NODE } as const;
    await runXsLoop(xsLoop!, mock, run);
    await runClientLoop(mock, { ...run, warmupOps: 1 });
    await expect(runClientLoop(mock, { ...run, size: 299 })).rejects.toThrow(
      /listed 300 of 299 children$/,
    );
  });

  it('fills a store with the C loop and leaves the nodes in place', async () => {
    const node = base();
    const fill = await runXsLoop(xsLoop!, mock, {
      workload: 'fill',
      ops: 250,
      size: 3,
      base: node,
    });
    expect(fill.rate).toBeGreaterThan(0);
    const client = await XenstoreClient.connect({ socketPath: mock.socketPath });
    try {
      expect(await client.directory(node)).toEqual(['value', '0', '1', '2']);
      expect((await client.read(`${node}/2/49`)).toString()).toBe('vvv');
    } finally {
      await client.close();
    }
  });
});

describe.skipIf(xsLoop === undefined)('the least Node client', () => {
  it('runs against a daemon and leaves its node behind it removed', async () => {
    const mock = await startMockXenstored();
    try {
      const sample = await runLeastClient(mock, {
        base: '/bench/least',
        size: 16,
        ops: 50,
        warmupOps: 10,
      });
      expect(sample.rate).toBeGreaterThan(0);
      expect(Object.keys(sample.cpuPerOp ?? {}).sort()).toEqual(['client', 'daemon']);
      const client = await XenstoreClient.connect({ socketPath: mock.socketPath });
      try {
        expect(await client.directory('/bench')).toEqual([]);
      } finally {
        await client.close();
      }
    } finally {
      await mock.stop();
    }
  });
});

describe.skipIf(xsLoop === undefined)('the null xenstored', () => {
  let daemon: XenstoreDaemon;

  beforeAll(async () => {
    daemon = await startNullXenstored();
  });

  afterAll(async () => {
    await daemon?.stop();
  });

  it('answers every request OK, the C loop’s included', async () => {
    const loop = await runXsLoop(xsLoop!, daemon, {
      workload: 'write-read',
      ops: 50,
      size: 16,
      base: '/bench/null',
    });
    expect(loop.rate).toBeGreaterThan(0);
    expect(loop.cpuPerOp?.daemon).toBeGreaterThan(0);
    const client = await XenstoreClient.connect({ socketPath: daemon.socketPath });
    try {
      await client.write('/a', 'x');
      expect((await client.read('/never/written')).toString('latin1')).toBe('OK\0');
    } finally {
      await client.close();
    }
  });

  it('drops a connection announcing an oversized payload, and goes on', async () => {
    const rude = connect(daemon.socketPath);
    const header = Buffer.alloc(16);
    header.writeUInt32LE(2, 0);
    header.writeUInt32LE(4097, 12);
    rude.end(header);
    await once(rude, 'close');
    const client = await XenstoreClient.connect({ socketPath: daemon.socketPath });
    try {
      await client.write('/still', 'here');
    } finally {
      await client.close();
    }
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
