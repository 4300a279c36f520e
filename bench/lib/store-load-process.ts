/**
 * Child process measuring one load of the large store, alone in a fresh heap.
 *
 *   store-load-process.ts (mock|map) NODES WIDE_CHILDREN
 *
 * `mock` loads the nodes into an in-memory xenstored, as `XenstoreServer.load` does with a dump;
 * `map` puts the same paths and values into a plain `Map<string, Buffer>`, the least any store
 * of them can cost (the trivial reference the mock is compared with). Prints one JSON `Sample`:
 * nodes loaded per second and this process's CPU time per node over the load, with the load time
 * and the retained bytes per node as extra figures. Needs `--expose-gc` (see `spawnTs`). The
 * process measures itself and is alone in its run, so it needs no handshake with the bench.
 */

import { type DumpedNode, XenstoreServer } from '../../src/xenstore/server.ts';
import { largeStoreNodes } from './large-store.ts';
import type { Sample } from './types.ts';

const [kind, nodes, wideChildren] = process.argv.slice(2);
const shape = { nodes: Number(nodes), wideChildren: Number(wideChildren) };
const collect = (globalThis as { gc?: () => void }).gc;
if (!collect || (kind !== 'mock' && kind !== 'map')) {
  throw new Error('usage: node --expose-gc store-load-process.ts (mock|map) NODES WIDE_CHILDREN');
}

/** Heap and off-heap bytes (values are Buffers, which live outside the V8 heap). */
function retained(): number {
  collect!();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

function load(seed: readonly DumpedNode[]): unknown {
  if (kind === 'mock') return new XenstoreServer({ seed: { nodes: seed } });
  const map = new Map<string, Buffer>();
  for (const node of seed) map.set(node.path, Buffer.from(node.value ?? ''));
  return map;
}

const before = retained();
let seed: DumpedNode[] | undefined = largeStoreNodes(shape);
const cpuBefore = process.cpuUsage();
const start = process.hrtime.bigint();
// Unused, but module scope keeps it reachable until it has been measured.
const _store = load(seed);
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const cpu = process.cpuUsage(cpuBefore);
// Drop the seed so that only what the store keeps is counted.
seed = undefined;
const bytes = retained() - before;
const sample: Sample = {
  rate: shape.nodes / seconds,
  cpuPerOp: { client: (cpu.user + cpu.system) / 1e6 / shape.nodes },
  extra: { loadSeconds: seconds, bytesPerNode: bytes / shape.nodes },
};
process.stdout.write(`${JSON.stringify(sample)}\n`);
