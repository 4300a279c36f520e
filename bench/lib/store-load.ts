import { fileURLToPath } from 'node:url';
import type { LargeStoreShape } from './large-store.ts';
import { firstJsonLine, spawnTs } from './ts-child.ts';
import type { Sample } from './types.ts';

const loadProcess = fileURLToPath(new URL('./store-load-process.ts', import.meta.url));

/**
 * Loads the large store once into the in-memory xenstored (`mock`) or into a plain `Map`
 * (`map`), in a fresh process so that the heap it measures holds nothing else.
 */
export async function measureStoreLoad(
  kind: 'mock' | 'map',
  shape: LargeStoreShape,
): Promise<Sample> {
  const child = spawnTs(loadProcess, [kind, String(shape.nodes), String(shape.wideChildren)]);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const sample = await firstJsonLine<Sample>(child);
  const code = await exited;
  if (code !== 0) throw new Error(`store-load-process ${kind} exited with ${code}`);
  return sample;
}
