import type { ByteRingLayout } from '../../../src/ring/byte-ring.ts';
import { XEN_PAGE_SIZE } from '../../../src/ring/memory.ts';

/** Data pages of the ring that grants.dom0.ts lays over real grant pages (after one index page). */
export const GRANT_RING_DATA_PAGES = 16;

/** Page 0 holds the indices, the following pages the data, as flex rings (pvcalls, 9pfs) do. */
export const GRANT_RING_LAYOUT: ByteRingLayout = {
  name: 'grant ring',
  cons: 0,
  prod: 4,
  data: XEN_PAGE_SIZE,
  size: GRANT_RING_DATA_PAGES * XEN_PAGE_SIZE,
};

/** The byte at stream offset `i`: cheap to compute and to check, and not periodic in the ring. */
export function patternByte(i: number): number {
  return (i * 31 + (i >>> 13)) & 0xff;
}
