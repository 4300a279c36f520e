import { ByteRing } from './byte-ring.ts';
import { RingError } from './errors.ts';
import { RingArea, type RingBuffer, XEN_PAGE_SIZE } from './memory.ts';
import type { Notify } from './notify.ts';
import { ByteRingEnd } from './ring-end.ts';

/**
 * Flex rings of `ring.h` (`DEFINE_XEN_FLEX_RING_AND_INTF`), used by pvcalls and 9pfs: an
 * interface page holding the indices, and a data area of `2^order` pages split into `in`
 * (backend → frontend) and `out` (frontend → backend), each `XEN_FLEX_RING_SIZE(order)` bytes.
 */

/** Byte offsets of `struct name##_data_intf`. */
export const FlexIntfOffset = {
  /** u32 `in_cons`, advanced by the frontend as it reads `in`. */
  inCons: 0,
  /** u32 `in_prod`, advanced by the backend as it writes `in`; a cache line from `in_cons`. */
  inProd: 4,
  /** u32 `out_cons`, advanced by the backend as it reads `out`. */
  outCons: 64,
  /** u32 `out_prod`, advanced by the frontend as it writes `out`. */
  outProd: 68,
  /** u32 `ring_order`: the data area is `2^ring_order` pages, half for each direction. */
  ringOrder: 128,
  /** `grant_ref_t ref[]`: the grants of the data pages. */
  ref: 132,
} as const;

/** `XEN_FLEX_RING_SIZE(order)`: bytes in each direction of a ring of `2^order` data pages. */
export function flexRingSize(order: number): number {
  if (!Number.isInteger(order) || order < 0 || order > 19) {
    throw new RingError('EINVAL', `flex ring order ${order} is out of range 0..19`);
  }
  return 2 ** (order + 11);
}

/** Where a {@link FlexRing} finds its two areas in their buffers, and how it wakes its peer. */
export interface FlexRingOptions {
  /** Where the interface page starts in its buffer (default 0). */
  readonly intfOffset?: number;
  /** Where the data area starts in its buffer (default 0). */
  readonly dataOffset?: number;
  /** Wakes the peer; called after a `write` or `read` it may be waiting for. */
  readonly notify?: Notify;
}

/** One end of a flex ring. The frontend writes `out` and reads `in`; the backend the reverse. */
export class FlexRing extends ByteRingEnd {
  /** Backend → frontend. */
  readonly in: ByteRing;
  /** Frontend → backend. */
  readonly out: ByteRing;

  /**
   * @param intf memory of the interface page
   * @param data memory of the data area (`2^order` pages; may be the same buffer as `intf`)
   * @param order the ring order (`ring_order` in the interface page)
   */
  constructor(
    /** Which end this is: the frontend writes `out`, the backend writes `in`. */
    readonly role: 'frontend' | 'backend',
    intf: RingBuffer,
    data: RingBuffer,
    readonly order: number,
    options: FlexRingOptions = {},
  ) {
    if (role !== 'frontend' && role !== 'backend') {
      throw new RingError('EINVAL', `flex ring: role must be 'frontend' or 'backend'`);
    }
    const size = flexRingSize(order);
    const intfArea = new RingArea(intf, options.intfOffset ?? 0, XEN_PAGE_SIZE, 'flex ring');
    const dataArea = new RingArea(data, options.dataOffset ?? 0, 2 * size, 'flex ring data');
    const inRing = new ByteRing(
      intfArea,
      { name: 'flex.in', cons: FlexIntfOffset.inCons, prod: FlexIntfOffset.inProd, data: 0, size },
      dataArea,
    );
    const outRing = new ByteRing(
      intfArea,
      {
        name: 'flex.out',
        cons: FlexIntfOffset.outCons,
        prod: FlexIntfOffset.outProd,
        data: size,
        size,
      },
      dataArea,
    );
    const front = role === 'frontend';
    super(front ? outRing : inRing, front ? inRing : outRing, options.notify);
    this.in = inRing;
    this.out = outRing;
  }
}
