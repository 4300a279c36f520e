import type { DumpedNode } from '../../src/xenstore/server.ts';

/** The node with very many children that the DIRECTORY_PART workload lists. */
export const WIDE_NODE = '/bench/wide';

/** Shape of the large store. */
export interface LargeStoreShape {
  /** Leaf nodes in all, including the wide node's children. */
  readonly nodes: number;
  /** Children of {@link WIDE_NODE}. */
  readonly wideChildren: number;
}

/** The full-size store of the large-store workloads; `--quick` divides both by ten. */
export const LARGE_STORE: LargeStoreShape = { nodes: 1_000_000, wideChildren: 100_000 };

/**
 * The large store as a seed: `wideChildren` leaves under {@link WIDE_NODE}, the rest spread over
 * `/bench/tree/<n>/` directories of 1,000 leaves each (as a host with many guests spreads its
 * nodes over many small directories). Values are short text, like most xenstore values.
 */
export function largeStoreNodes(shape: LargeStoreShape): DumpedNode[] {
  const nodes: DumpedNode[] = [];
  for (let i = 0; i < shape.wideChildren; i++)
    nodes.push({ path: `${WIDE_NODE}/${i}`, value: `w${i}` });
  for (let i = 0; i < shape.nodes - shape.wideChildren; i++) {
    nodes.push({ path: `/bench/tree/${Math.floor(i / 1000)}/${i % 1000}`, value: `value-${i}` });
  }
  return nodes;
}
