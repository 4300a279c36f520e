import type { VchanData } from '../ring/index.ts';
import type { SharedPages } from '../xenbus/index.ts';
import { VchanError } from './errors.ts';

/**
 * A ring's data pages as the one contiguous area the ring needs: what gntalloc gives for one
 * multi-page share and gntdev for one multi-grant mapping.
 */
export function dataArea(pages: SharedPages | undefined): VchanData | undefined {
  const first = pages?.pages[0];
  if (pages === undefined || first === undefined) return undefined;
  for (const [i, page] of pages.pages.entries()) {
    if (
      page.buffer !== first.buffer ||
      page.byteOffset !== first.byteOffset + i * page.byteLength
    ) {
      throw new VchanError('EINVAL', 'vchan: the data pages are not contiguous in this mapping');
    }
  }
  return { buffer: first.buffer, byteOffset: first.byteOffset };
}
