import { mapFile, unmap } from '../../device/mapping.ts';
import { XEN_PAGE_SIZE } from '../../ring/memory.ts';
import type { PageMapper } from './ring-server.ts';

/**
 * A {@link PageMapper} over page files mapped shared with the native addon: the layout of the
 * test harness, where domain N's xenstore page is the file `dom<N>.page` that the real C
 * xenstored maps too. `pathOf` names the file for a domain (the gfn is not needed there).
 * @category Transports
 */
export function pageFileMapper(pathOf: (domid: number, gfn: bigint) => string): PageMapper {
  return {
    map: (domid, gfn) => new Uint8Array(mapFile(pathOf(domid, gfn), { length: XEN_PAGE_SIZE })),
    unmap: (_domid, _gfn, page) => unmap(page.buffer as ArrayBuffer),
  };
}
