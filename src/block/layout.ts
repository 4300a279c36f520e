import { defineRing, type RingType } from '../ring/index.ts';
import {
  BlkifOp,
  BlkifProtocol,
  MAX_INDIRECT_PAGES_PER_REQUEST,
  MAX_SEGMENTS_PER_REQUEST,
  SEGMENT_SIZE,
  SEGMENTS_PER_INDIRECT_PAGE,
} from './constants.ts';

/**
 * The bytes of blkif requests and responses, per ABI. A 64-bit guest lays `struct blkif_request`
 * out with natural alignment (`id` at 8, 112 bytes); a 32-bit one aligns `uint64_t` to 4 (`id`
 * at 4, 108 bytes). Linux's blkback spells both out (`blkif_x86_{32,64}_request` in
 * `drivers/block/xen-blkback/common.h`); the offsets here are theirs. The response is the same in
 * both (`id`, `operation` at 8, `status` at 10). Either way a page holds 32 slots.
 */

/** Field offsets of one ABI's request variants. */
interface RequestOffsets {
  /** `id`, `sector_number` and (read/write) `seg[]` of read, write, barrier and flush. */
  readonly id: number;
  readonly sector: number;
  readonly segments: number;
  /** `nr_sectors` of a discard. */
  readonly discardSectors: number;
  /** `handle` and `indirect_grefs[]` of an indirect request. */
  readonly indirectHandle: number;
  readonly indirectRefs: number;
}

/** One ABI of blkif: the slot layout and the ring type it makes. */
export interface BlkifAbi {
  /** The `protocol` key's value. */
  readonly protocol: BlkifProtocol;
  /** `sizeof(struct blkif_request)`. */
  readonly requestSize: number;
  /** The ring type (`DEFINE_RING_TYPES(blkif, …)`). */
  readonly ring: RingType;
  /** @internal */
  readonly offsets: RequestOffsets;
}

/** Bytes of a response: `id`, `operation`, `status` (16 with a 64-bit `id`'s alignment). */
export const RESPONSE_SIZE = 16;

function abi(protocol: BlkifProtocol, offsets: RequestOffsets): BlkifAbi {
  const requestSize = offsets.segments + MAX_SEGMENTS_PER_REQUEST * SEGMENT_SIZE;
  return {
    protocol,
    requestSize,
    ring: defineRing({ name: `blkif ${protocol}`, requestSize, responseSize: RESPONSE_SIZE }),
    offsets,
  };
}

/** The ABIs by `protocol` value. */
export const BLKIF_ABIS: Readonly<Record<BlkifProtocol, BlkifAbi>> = {
  'x86_64-abi': abi(BlkifProtocol.x86_64, {
    id: 8,
    sector: 16,
    segments: 24,
    discardSectors: 24,
    indirectHandle: 24,
    indirectRefs: 28,
  }),
  'x86_32-abi': abi(BlkifProtocol.x86_32, {
    id: 4,
    sector: 12,
    segments: 20,
    discardSectors: 20,
    indirectHandle: 20,
    indirectRefs: 24,
  }),
};

/**
 * The ABI a backend uses for a frontend's `protocol` key. A frontend that writes none gets the
 * 32-bit layout, as Linux's blkback assumes on x86 (`BLKIF_PROTOCOL_DEFAULT`): that is what
 * frontends from before the key existed were.
 * @returns undefined for a protocol blkif does not know
 */
export function abiOfProtocol(protocol: string | undefined): BlkifAbi | undefined {
  if (protocol === undefined) return BLKIF_ABIS['x86_32-abi'];
  return Object.hasOwn(BLKIF_ABIS, protocol) ? BLKIF_ABIS[protocol as BlkifProtocol] : undefined;
}

/** A `struct blkif_request_segment`: a granted page and the 512-byte sectors of it in use. */
export interface BlkifSegment {
  /** Grant reference of the page the data is read into or written from. */
  readonly ref: number;
  /** First sector of the page, inclusive. */
  readonly firstSect: number;
  /** Last sector of the page, inclusive. */
  readonly lastSect: number;
}

/** A read, write, barrier or flush request (segments in the slot). */
export interface BlkifRwRequest {
  /** What to do with the segments: read, write, or a write with barrier or flush semantics. */
  readonly op:
    | typeof BlkifOp.read
    | typeof BlkifOp.write
    | typeof BlkifOp.writeBarrier
    | typeof BlkifOp.flushDiskcache;
  /** Opaque to the backend; echoed in the response so the frontend can match it. */
  readonly id: bigint;
  /** The virtual device's handle; Linux sends 0 and backends ignore it. */
  readonly handle: number;
  /** First 512-byte sector on the disk, whatever the disk's sector size. */
  readonly sector: number;
  /** `nr_segments` as sent, which may exceed what the slot holds. */
  readonly segmentCount: number;
  /** The slot's segments, at most {@link MAX_SEGMENTS_PER_REQUEST}. */
  readonly segments: readonly BlkifSegment[];
}

/** A discard request. */
export interface BlkifDiscardRequest {
  /** Always {@link BlkifOp}.discard. */
  readonly op: typeof BlkifOp.discard;
  /** Opaque to the backend; echoed in the response. */
  readonly id: bigint;
  /** `BLKIF_DISCARD_SECURE` or 0. */
  readonly flag: number;
  /** First 512-byte sector to discard. */
  readonly sector: number;
  /** Number of 512-byte sectors to discard (`nr_sectors`). */
  readonly count: number;
}

/** A read or write whose segments are in granted indirect pages. */
export interface BlkifIndirectRequest {
  /** Always {@link BlkifOp}.indirect; the real operation is {@link indirectOp}. */
  readonly op: typeof BlkifOp.indirect;
  /** The operation carried (only read and write are valid). */
  readonly indirectOp: number;
  /** Opaque to the backend; echoed in the response. */
  readonly id: bigint;
  /** The virtual device's handle; Linux sends 0 and backends ignore it. */
  readonly handle: number;
  /** First 512-byte sector on the disk. */
  readonly sector: number;
  /** `nr_segments` as sent. */
  readonly segmentCount: number;
  /** The indirect pages' refs that `segmentCount` needs, at most 8. */
  readonly indirectRefs: readonly number[];
}

/** Any other operation: only its id can be trusted, to answer it. */
export interface BlkifOtherRequest {
  /** The unknown or unsupported operation number, echoed in the `EOPNOTSUPP` response. */
  readonly op: number;
  /** Opaque to the backend; echoed in the response. */
  readonly id: bigint;
}

/** A decoded request. */
export type BlkifRequest =
  | BlkifRwRequest
  | BlkifDiscardRequest
  | BlkifIndirectRequest
  | BlkifOtherRequest;

/** A decoded response. */
export interface BlkifResponse {
  /** The request's `id`, which is how the frontend finds the request this answers. */
  readonly id: bigint;
  /** The request's operation, echoed ({@link BlkifOp}). */
  readonly op: number;
  /** The outcome: a {@link BlkifStatus} value (negative on failure). */
  readonly status: number;
}

/** Indirect pages `segments` segments take (`INDIRECT_PAGES`). */
export function indirectPagesFor(segments: number): number {
  return Math.ceil(segments / SEGMENTS_PER_INDIRECT_PAGE);
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A u64 as a number: exact up to 2^53, and beyond that still larger than any disk. */
function getU64(v: DataView, at: number): number {
  return v.getUint32(at + 4, true) * 2 ** 32 + v.getUint32(at, true);
}

function setU64(v: DataView, at: number, value: number): void {
  v.setUint32(at, value % 2 ** 32, true);
  v.setUint32(at + 4, Math.floor(value / 2 ** 32), true);
}

/**
 * Byte offsets in a `struct blkif_request_segment`: `gref` (u32), `first_sect`, `last_sect` (u8
 * each), then two bytes of padding.
 * @internal
 */
export const SegmentOffset = { ref: 0, firstSect: 4, lastSect: 5 } as const;

/** Reads `count` segments starting at byte `at` (a slot's `seg[]` or an indirect page). */
export function decodeSegments(bytes: Uint8Array, at: number, count: number): BlkifSegment[] {
  const v = view(bytes);
  const segments: BlkifSegment[] = [];
  for (let i = 0; i < count; i++) {
    const o = at + i * SEGMENT_SIZE;
    segments.push({
      ref: v.getUint32(o + SegmentOffset.ref, true),
      firstSect: v.getUint8(o + SegmentOffset.firstSect),
      lastSect: v.getUint8(o + SegmentOffset.lastSect),
    });
  }
  return segments;
}

/** Writes segments starting at byte `at`, padding bytes zeroed. */
export function encodeSegments(
  bytes: Uint8Array,
  at: number,
  segments: readonly BlkifSegment[],
): void {
  const v = view(bytes);
  for (const [i, segment] of segments.entries()) {
    const o = at + i * SEGMENT_SIZE;
    v.setUint32(o + SegmentOffset.ref, segment.ref, true);
    v.setUint8(o + SegmentOffset.firstSect, segment.firstSect);
    v.setUint8(o + SegmentOffset.lastSect, segment.lastSect);
    v.setUint16(o + 6, 0, true);
  }
}

/**
 * Decodes a request copied out of the ring. Only what the operation defines is read, and no more
 * segments or indirect refs than fit: a frontend's `nr_segments` is kept as sent for the
 * validator to judge, as Linux's blkback does (`blkif_get_x86_*_req`).
 */
export function decodeBlkifRequest(abi: BlkifAbi, bytes: Uint8Array): BlkifRequest {
  const v = view(bytes);
  const o = abi.offsets;
  const op = v.getUint8(0);
  const id = v.getBigUint64(o.id, true);
  switch (op) {
    case BlkifOp.read:
    case BlkifOp.write:
    case BlkifOp.writeBarrier:
    case BlkifOp.flushDiskcache: {
      const segmentCount = v.getUint8(1);
      return {
        op,
        id,
        handle: v.getUint16(2, true),
        sector: getU64(v, o.sector),
        segmentCount,
        segments: decodeSegments(
          bytes,
          o.segments,
          Math.min(segmentCount, MAX_SEGMENTS_PER_REQUEST),
        ),
      };
    }
    case BlkifOp.discard:
      return {
        op,
        id,
        flag: v.getUint8(1),
        sector: getU64(v, o.sector),
        count: getU64(v, o.discardSectors),
      };
    case BlkifOp.indirect: {
      const segmentCount = v.getUint16(2, true);
      const pages = Math.min(MAX_INDIRECT_PAGES_PER_REQUEST, indirectPagesFor(segmentCount));
      const indirectRefs: number[] = [];
      for (let i = 0; i < pages; i++) indirectRefs.push(v.getUint32(o.indirectRefs + 4 * i, true));
      return {
        op,
        indirectOp: v.getUint8(1),
        id,
        handle: v.getUint16(o.indirectHandle, true),
        sector: getU64(v, o.sector),
        segmentCount,
        indirectRefs,
      };
    }
    default:
      return { op, id };
  }
}

/** Writes a request into a slot (`abi.requestSize` bytes), unused bytes zeroed. */
export function encodeBlkifRequest(abi: BlkifAbi, request: BlkifRequest, bytes: Uint8Array): void {
  const v = view(bytes);
  const o = abi.offsets;
  bytes.fill(0, 0, abi.requestSize);
  v.setUint8(0, request.op);
  v.setBigUint64(o.id, request.id, true);
  if ('segments' in request) {
    v.setUint8(1, request.segmentCount);
    v.setUint16(2, request.handle, true);
    setU64(v, o.sector, request.sector);
    encodeSegments(bytes, o.segments, request.segments);
  } else if ('count' in request) {
    v.setUint8(1, request.flag);
    setU64(v, o.sector, request.sector);
    setU64(v, o.discardSectors, request.count);
  } else if ('indirectRefs' in request) {
    v.setUint8(1, request.indirectOp);
    v.setUint16(2, request.segmentCount, true);
    setU64(v, o.sector, request.sector);
    v.setUint16(o.indirectHandle, request.handle, true);
    for (const [i, ref] of request.indirectRefs.entries()) {
      v.setUint32(o.indirectRefs + 4 * i, ref, true);
    }
  }
}

/** Decodes a response copied out of the ring. */
export function decodeBlkifResponse(bytes: Uint8Array): BlkifResponse {
  const v = view(bytes);
  return { id: v.getBigUint64(0, true), op: v.getUint8(8), status: v.getInt16(10, true) };
}

/** Writes a response into a slot, its padding zeroed. */
export function encodeBlkifResponse(response: BlkifResponse, bytes: Uint8Array): void {
  const v = view(bytes);
  bytes.fill(0, 0, RESPONSE_SIZE);
  v.setBigUint64(0, response.id, true);
  v.setUint8(8, response.op);
  v.setInt16(10, response.status, true);
}
