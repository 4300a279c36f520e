import {
  BLKIF_DISCARD_SECURE,
  BlkifOp,
  BlkifStatus,
  MAX_SEGMENTS_PER_REQUEST,
  SECTOR_SIZE,
  SECTORS_PER_PAGE,
  SEGMENT_SIZE,
  SEGMENTS_PER_INDIRECT_PAGE,
} from './constants.ts';
import { type BlkifRequest, type BlkifSegment, SegmentOffset } from './layout.ts';

/**
 * Every check a backend makes before touching a guest's request, as pure functions of the
 * request (a private copy, so the guest can no longer change it) and what the backend offers.
 * They are Linux's blkback's (`dispatch_rw_block_io`, `xen_blkbk_parse_indirect`,
 * `xen_vbd_translate`, `dispatch_discard_io`): a refused request is answered, never dropped, and
 * no range outside the disk reaches it.
 */

/** What the backend offers, which requests are judged against. */
export interface BackendLimits {
  /** Disk size in 512-byte sectors. */
  readonly sectors: number;
  /** Logical sector size in bytes: starts and lengths must be multiples of it. */
  readonly sectorSize: number;
  /** Writes and discards are refused with `BLKIF_RSP_ERROR`. */
  readonly readOnly: boolean;
  /** Flush and barrier are offered. */
  readonly flush: boolean;
  /** Discard is offered. */
  readonly discard: boolean;
  /** `feature-max-indirect-segments` (0: indirect requests are refused). */
  readonly maxIndirectSegments: number;
}

/** A request to answer without touching the disk. */
export interface Refusal {
  /** Tells the verdicts apart. */
  readonly kind: 'refuse';
  /** The request's id, which the response echoes. */
  readonly id: bigint;
  /** The operation the response carries. */
  readonly op: number;
  /** `BLKIF_RSP_EOPNOTSUPP` for an operation not offered, `BLKIF_RSP_ERROR` for the rest. */
  readonly status: typeof BlkifStatus.error | typeof BlkifStatus.notSupported;
  /** Why, for logs and tests. */
  readonly reason: string;
}

/** A read or write (with flush or barrier semantics when asked) to carry out. */
export interface IoPlan {
  /** Tells the verdicts apart. */
  readonly kind: 'io';
  /** The request's id, which the response echoes. */
  readonly id: bigint;
  /** The operation the response carries: the request's, or an indirect request's inner one. */
  readonly op: number;
  /** Data goes to the disk (write, barrier, flush) rather than from it. */
  readonly write: boolean;
  /** Flush completed writes first (flush and barrier). */
  readonly preflush: boolean;
  /**
   * Flush this request's own data once written (a flush or barrier carrying data: Linux's
   * blkfront sends a FUA write so, and a FUA write is durable when answered).
   */
  readonly postflush: boolean;
  /** Wait for every earlier request, and hold later ones until done (barrier). */
  readonly barrier: boolean;
  /** First 512-byte sector on the disk. */
  readonly sector: number;
  /** The segments, once known (an indirect request's come from its pages). */
  readonly segments: readonly BlkifSegment[];
  /** Where an indirect request's segments are, until they are read. */
  readonly indirect?: {
    /** Grant references of the indirect pages. */
    readonly refs: readonly number[];
    /** Segments the pages hold, in order (`nr_segments`). */
    readonly count: number;
  };
}

/** A discard to carry out. */
export interface DiscardPlan {
  /** Tells the verdicts apart. */
  readonly kind: 'discard';
  /** The request's id, which the response echoes. */
  readonly id: bigint;
  /** Always {@link BlkifOp}.discard, for the response. */
  readonly op: typeof BlkifOp.discard;
  /** First 512-byte sector to discard. */
  readonly sector: number;
  /** Number of 512-byte sectors to discard. */
  readonly count: number;
  /** The guest asked for a secure discard. */
  readonly secure: boolean;
}

/** What to do with a request. */
export type RequestVerdict = Refusal | IoPlan | DiscardPlan;

function refuse(
  id: bigint,
  op: number,
  reason: string,
  status: Refusal['status'] = BlkifStatus.error,
): Refusal {
  return { kind: 'refuse', id, op, status, reason };
}

/** Whether `count` sectors from `sector` lie inside the disk (overflow included). */
function inside(limits: BackendLimits, sector: number, count: number): boolean {
  const end = sector + count;
  return Number.isSafeInteger(end) && end >= sector && end <= limits.sectors;
}

function aligned(limits: BackendLimits, sectors: number): boolean {
  return sectors % (limits.sectorSize / SECTOR_SIZE) === 0;
}

/**
 * Judges a request's header. Read, write, flush and barrier requests with their segments in the
 * slot get their whole verdict; an indirect one gets an {@link IoPlan} with `indirect` set,
 * whose segments {@link checkSegments} judges once read from its pages.
 */
export function checkRequest(request: BlkifRequest, limits: BackendLimits): RequestVerdict {
  const { id } = request;
  if ('count' in request) return checkDiscard(request, limits);
  if ('indirectRefs' in request) {
    const op = request.indirectOp;
    if (op !== BlkifOp.read && op !== BlkifOp.write) {
      return refuse(id, op, `indirect operation ${op} is neither read nor write`);
    }
    const count = request.segmentCount;
    if (count === 0 || count > limits.maxIndirectSegments) {
      return refuse(id, op, `${count} indirect segments (1 to ${limits.maxIndirectSegments})`);
    }
    if (op === BlkifOp.write && limits.readOnly) return refuse(id, op, 'write to a read-only disk');
    return {
      kind: 'io',
      id,
      op,
      write: op === BlkifOp.write,
      preflush: false,
      postflush: false,
      barrier: false,
      sector: request.sector,
      segments: [],
      indirect: { refs: request.indirectRefs, count },
    };
  }
  if (!('segments' in request)) {
    return refuse(id, request.op, `operation ${request.op} is unknown`, BlkifStatus.notSupported);
  }
  const { op, segmentCount } = request;
  const flushing = op === BlkifOp.flushDiskcache || op === BlkifOp.writeBarrier;
  if (flushing && !limits.flush) {
    return refuse(id, op, 'flush is not offered', BlkifStatus.notSupported);
  }
  if (segmentCount > MAX_SEGMENTS_PER_REQUEST || (segmentCount === 0 && !flushing)) {
    return refuse(id, op, `${segmentCount} segments (1 to ${MAX_SEGMENTS_PER_REQUEST})`);
  }
  if (request.segments.length !== segmentCount) {
    return refuse(id, op, `${segmentCount} segments claimed, ${request.segments.length} given`);
  }
  const plan: IoPlan = {
    kind: 'io',
    id,
    op,
    write: op !== BlkifOp.read,
    preflush: flushing,
    postflush: flushing && segmentCount > 0,
    barrier: op === BlkifOp.writeBarrier,
    sector: request.sector,
    segments: request.segments,
  };
  // A flush is a write for these purposes (Linux's xen_vbd_translate): refused when read-only.
  if (plan.write && limits.readOnly) return refuse(id, op, 'write to a read-only disk');
  return checkSegments(plan, request.segments, limits);
}

/**
 * Judges the segments of a read or write: each within its page (`first_sect ≤ last_sect < 8`),
 * the whole range inside the disk, and starts and lengths aligned to the sector size.
 */
export function checkSegments(
  plan: IoPlan,
  segments: readonly BlkifSegment[],
  limits: BackendLimits,
): IoPlan | Refusal {
  let count = 0;
  for (let i = 0; i < segments.length; i++) {
    const { firstSect, lastSect } = segments[i] as BlkifSegment;
    const fault = segmentFault(i, firstSect, lastSect, limits);
    if (fault !== undefined) return refuse(plan.id, plan.op, fault);
    count += lastSect - firstSect + 1;
  }
  return rangeRefusal(plan, count, limits) ?? { ...plan, segments, indirect: undefined };
}

/**
 * A read's or write's segments as a backend carries them out, one entry per segment: the grant
 * of its page, and its first and last sector in the page.
 */
export interface SegmentList {
  /** Grant reference of each segment's page. */
  readonly refs: readonly number[];
  /** Each segment's `first_sect | last_sect << 8`. */
  readonly spans: readonly number[];
}

/**
 * Judges an indirect request's segments straight from its mapped indirect pages, as
 * {@link checkSegments} judges decoded ones (`xen_blkbk_parse_indirect`), and lists them. Each
 * field is read from the pages once, so a frontend rewriting them meanwhile cannot change what
 * was judged; no object is made per segment, which a 1 MiB request has 256 of.
 * @param pages - the pages of `plan.indirect.refs`, in order
 */
export function checkIndirectSegments(
  plan: IoPlan,
  pages: readonly Uint8Array[],
  limits: BackendLimits,
): SegmentList | Refusal {
  const count = plan.indirect?.count ?? 0;
  const refs: number[] = new Array(count);
  const spans: number[] = new Array(count);
  let sectors = 0;
  for (let p = 0, i = 0; i < count; p++) {
    const page = pages[p] as Uint8Array;
    const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
    const end = Math.min(count, i + SEGMENTS_PER_INDIRECT_PAGE);
    for (let at = 0; i < end; i++, at += SEGMENT_SIZE) {
      const firstSect = view.getUint8(at + SegmentOffset.firstSect);
      const lastSect = view.getUint8(at + SegmentOffset.lastSect);
      const fault = segmentFault(i, firstSect, lastSect, limits);
      if (fault !== undefined) return refuse(plan.id, plan.op, fault);
      refs[i] = view.getUint32(at + SegmentOffset.ref, true);
      spans[i] = firstSect | (lastSect << 8);
      sectors += lastSect - firstSect + 1;
    }
  }
  return rangeRefusal(plan, sectors, limits) ?? { refs, spans };
}

/** Why segment `i`, sectors `firstSect` to `lastSect` of its page, cannot be carried out. */
function segmentFault(
  i: number,
  firstSect: number,
  lastSect: number,
  limits: BackendLimits,
): string | undefined {
  if (lastSect >= SECTORS_PER_PAGE || lastSect < firstSect) {
    return `segment ${i} has sectors ${firstSect} to ${lastSect}`;
  }
  if ((lastSect - firstSect + 1) % (limits.sectorSize / SECTOR_SIZE) !== 0) {
    return `segment ${i} is not whole ${limits.sectorSize}-byte sectors`;
  }
  return undefined;
}

/** The refusal of a read or write of `count` sectors from `plan.sector` outside the disk. */
function rangeRefusal(plan: IoPlan, count: number, limits: BackendLimits): Refusal | undefined {
  // As Linux: a flush without data is not judged by its (meaningless) sector number.
  if (count > 0 && !aligned(limits, plan.sector)) {
    return refuse(
      plan.id,
      plan.op,
      `sector ${plan.sector} is not ${limits.sectorSize}-byte aligned`,
    );
  }
  if (count > 0 && !inside(limits, plan.sector, count)) {
    return refuse(
      plan.id,
      plan.op,
      `sectors ${plan.sector} to ${plan.sector + count} are past the end (${limits.sectors})`,
    );
  }
  return undefined;
}

function checkDiscard(
  request: Extract<BlkifRequest, { count: number }>,
  limits: BackendLimits,
): DiscardPlan | Refusal {
  const { id, sector, count } = request;
  const op = BlkifOp.discard;
  if (!limits.discard) return refuse(id, op, 'discard is not offered', BlkifStatus.notSupported);
  if (limits.readOnly) return refuse(id, op, 'discard on a read-only disk');
  if (count > 0 && !inside(limits, sector, count)) {
    return refuse(id, op, `discard of ${count} sectors at ${sector} is past the end`);
  }
  if (!aligned(limits, sector) || !aligned(limits, count)) {
    return refuse(id, op, `discard is not ${limits.sectorSize}-byte aligned`);
  }
  return {
    kind: 'discard',
    id,
    op,
    sector,
    count,
    secure: (request.flag & BLKIF_DISCARD_SECURE) !== 0,
  };
}
