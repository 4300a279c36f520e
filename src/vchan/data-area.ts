import type { VchanData } from '../ring/index.ts';
import { contiguousPages, type SharedPages } from '../xenbus/index.ts';
import { VchanError } from './errors.ts';

/**
 * A ring's data pages as the one contiguous area the ring needs: what gntalloc gives for one
 * multi-page share and gntdev for one multi-grant mapping.
 */
export function dataArea(pages: SharedPages | undefined): VchanData | undefined {
  if (pages === undefined || pages.pages.length === 0) return undefined;
  try {
    const area = contiguousPages(pages);
    return { buffer: area.buffer, byteOffset: area.byteOffset };
  } catch (cause) {
    throw new VchanError('EINVAL', 'vchan: the data pages are not contiguous in this mapping', {
      cause,
    });
  }
}
