/** First domain id that names no real domain (`DOMID_FIRST_RESERVED` in xen.h). */
export const DOMID_FIRST_RESERVED = 0x7ff0;

/** True for a domain id a guest may name (0 … 0x7fef). */
export function isDomid(domid: number): boolean {
  return Number.isInteger(domid) && domid >= 0 && domid < DOMID_FIRST_RESERVED;
}
