import { VCHAN_MAX_ORDER, type VchanOrders } from '../ring/index.ts';
import { VchanError } from './errors.ts';

/** The smallest order a ring gets outside the page: one 4 KiB page. */
const PAGE_ORDER = 12;
const SMALL_RING = 1024;
const LARGE_RING = 2048;

function minOrder(bytes: number): number {
  let order = PAGE_ORDER;
  while (bytes > 2 ** order) order++;
  return order;
}

/**
 * The ring orders `libxenvchan_server_init` picks for the least sizes asked (`left_min`,
 * `right_min` in bytes; 0 for "any"): both rings inside the shared page (1 KiB and 2 KiB) when
 * they fit, else one inside it when it fits, else the smallest power of two of whole pages.
 * @throws VchanError `EINVAL` above 1 MiB (the largest ring whose grants fit the page)
 */
export function chooseRingOrders(leftMin: number, rightMin: number): VchanOrders {
  for (const [name, bytes] of [
    ['leftMin', leftMin],
    ['rightMin', rightMin],
  ] as const) {
    if (!Number.isInteger(bytes) || bytes < 0 || bytes > 2 ** VCHAN_MAX_ORDER) {
      throw new VchanError('EINVAL', `${name} ${bytes} is not a ring size of 0 … 1 MiB`);
    }
  }
  if (leftMin <= SMALL_RING && rightMin <= LARGE_RING) return { left: 10, right: 11 };
  if (leftMin <= LARGE_RING && rightMin <= SMALL_RING) return { left: 11, right: 10 };
  if (leftMin <= LARGE_RING) return { left: 11, right: minOrder(rightMin) };
  if (rightMin <= LARGE_RING) return { left: minOrder(leftMin), right: 11 };
  return { left: minOrder(leftMin), right: minOrder(rightMin) };
}
