import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  abiOfProtocol,
  BLKIF_ABIS,
  type BlkifAbi,
  BlkifOp,
  type BlkifRequest,
  decodeBlkifRequest,
  decodeBlkifResponse,
  decodeSegments,
  encodeBlkifRequest,
  encodeBlkifResponse,
  encodeSegments,
} from '../../src/block/index.ts';
import { anyId, rwRequests } from './support/arbitraries.ts';

/**
 * The slot layouts against the numbers of Linux's blkback (`blkif_x86_{32,64}_request` in
 * drivers/block/xen-blkback/common.h, all `__packed`): written out by hand here, so that a change
 * to the layout code cannot carry its own expectations along.
 */
const x64 = BLKIF_ABIS['x86_64-abi'];
const x32 = BLKIF_ABIS['x86_32-abi'];

function bytesOf(abi: BlkifAbi, request: BlkifRequest): Uint8Array {
  const slot = new Uint8Array(abi.ring.entrySize);
  encodeBlkifRequest(abi, request, slot);
  return slot;
}

const u64 = (bytes: Uint8Array, at: number) =>
  new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(at, true);

describe('blkif slot layouts', () => {
  it('have Linux’s sizes: 112 and 108 bytes, 32 slots a page, 64 in two pages', () => {
    expect(x64.requestSize).toBe(112);
    expect(x32.requestSize).toBe(108);
    for (const abi of [x64, x32]) {
      expect(abi.ring.entries(4096)).toBe(32);
      expect(abi.ring.entries(8192)).toBe(64);
      expect(abi.ring.entries(16 * 4096)).toBe(512);
    }
  });

  it('put a 64-bit guest’s read at id 8, sector 16, segments from 24', () => {
    const slot = bytesOf(x64, {
      op: BlkifOp.read,
      id: 0x1122334455667788n,
      handle: 0xca10,
      sector: 2 ** 40 + 5,
      segmentCount: 2,
      segments: [
        { ref: 0xdeadbeef, firstSect: 1, lastSect: 7 },
        { ref: 9, firstSect: 0, lastSect: 3 },
      ],
    });
    expect([...slot.subarray(0, 4)]).toEqual([0, 2, 0x10, 0xca]);
    expect(u64(slot, 8)).toBe(0x1122334455667788n);
    expect(u64(slot, 16)).toBe(2n ** 40n + 5n);
    expect([...slot.subarray(24, 40)]).toEqual([
      0xef, 0xbe, 0xad, 0xde, 1, 7, 0, 0, 9, 0, 0, 0, 0, 3, 0, 0,
    ]);
  });

  it('put a 32-bit guest’s read at id 4, sector 12, segments from 20', () => {
    const slot = bytesOf(x32, {
      op: BlkifOp.write,
      id: 7n,
      handle: 1,
      sector: 3,
      segmentCount: 1,
      segments: [{ ref: 5, firstSect: 0, lastSect: 7 }],
    });
    expect(u64(slot, 4)).toBe(7n);
    expect(u64(slot, 12)).toBe(3n);
    expect([...slot.subarray(20, 26)]).toEqual([5, 0, 0, 0, 0, 7]);
  });

  it('lay out discard and indirect requests as blkback reads them', () => {
    const discard64 = bytesOf(x64, { op: BlkifOp.discard, id: 1n, flag: 1, sector: 10, count: 20 });
    expect([discard64[0], discard64[1]]).toEqual([5, 1]);
    expect([u64(discard64, 8), u64(discard64, 16), u64(discard64, 24)]).toEqual([1n, 10n, 20n]);
    const discard32 = bytesOf(x32, { op: BlkifOp.discard, id: 1n, flag: 0, sector: 10, count: 20 });
    expect([u64(discard32, 4), u64(discard32, 12), u64(discard32, 20)]).toEqual([1n, 10n, 20n]);
    const indirect = {
      op: BlkifOp.indirect,
      indirectOp: BlkifOp.write,
      id: 2n,
      handle: 0x300,
      sector: 64,
      segmentCount: 600,
      indirectRefs: [11, 12],
    } as const;
    const in64 = bytesOf(x64, indirect);
    const v64 = new DataView(in64.buffer);
    expect([in64[0], in64[1], v64.getUint16(2, true)]).toEqual([6, 1, 600]);
    expect([u64(in64, 8), u64(in64, 16)]).toEqual([2n, 64n]);
    expect([v64.getUint16(24, true), v64.getUint32(28, true), v64.getUint32(32, true)]).toEqual([
      0x300, 11, 12,
    ]);
    const in32 = bytesOf(x32, indirect);
    const v32 = new DataView(in32.buffer);
    expect([u64(in32, 4), u64(in32, 12)]).toEqual([2n, 64n]);
    expect([v32.getUint16(20, true), v32.getUint32(24, true), v32.getUint32(28, true)]).toEqual([
      0x300, 11, 12,
    ]);
  });

  it('put a response’s id at 0, operation at 8, status at 10', () => {
    const slot = new Uint8Array(16).fill(0xff);
    encodeBlkifResponse({ id: 0x0102030405060708n, op: 6, status: -2 }, slot);
    expect([...slot]).toEqual([8, 7, 6, 5, 4, 3, 2, 1, 6, 0, 0xfe, 0xff, 0, 0, 0, 0]);
    expect(decodeBlkifResponse(slot)).toEqual({ id: 0x0102030405060708n, op: 6, status: -2 });
  });
});

const segment = fc.record({
  ref: fc.nat({ max: 0xffffffff }),
  firstSect: fc.nat({ max: 255 }),
  lastSect: fc.nat({ max: 255 }),
});
const id = anyId;
const sector = fc.nat({ max: Number.MAX_SAFE_INTEGER });

const request: fc.Arbitrary<BlkifRequest> = fc.oneof(
  rwRequests({ sector, segment, handle: fc.nat({ max: 0xffff }) }),
  fc.record({
    op: fc.constant(BlkifOp.discard),
    id,
    flag: fc.nat({ max: 255 }),
    sector,
    count: sector,
  }),
  fc
    .record({
      op: fc.constant(BlkifOp.indirect),
      indirectOp: fc.nat({ max: 255 }),
      id,
      handle: fc.nat({ max: 0xffff }),
      sector,
      segmentCount: fc.integer({ min: 1, max: 4096 }),
    })
    .chain((r) =>
      fc
        .array(fc.nat({ max: 0xffffffff }), {
          minLength: Math.ceil(r.segmentCount / 512),
          maxLength: Math.ceil(r.segmentCount / 512),
        })
        .map((indirectRefs) => ({ ...r, indirectRefs })),
    ),
  fc.record({ op: fc.constantFrom(4, 7, 100, 255), id }),
);

describe('blkif codec', () => {
  it('decodes what it encodes, in both ABIs', () => {
    fc.assert(
      fc.property(fc.constantFrom(x64, x32), request, (abi, r) => {
        expect(decodeBlkifRequest(abi, bytesOf(abi, r))).toEqual(r);
      }),
    );
  });

  it('reads no more segments than a slot holds, however many nr_segments claims', () => {
    const slot = bytesOf(x64, {
      op: BlkifOp.read,
      id: 0n,
      handle: 0,
      sector: 0,
      segmentCount: 11,
      segments: Array.from({ length: 11 }, (_, i) => ({ ref: i, firstSect: 0, lastSect: 7 })),
    });
    slot[1] = 200;
    const decoded = decodeBlkifRequest(x64, slot);
    expect(decoded).toMatchObject({ segmentCount: 200 });
    expect('segments' in decoded && decoded.segments).toHaveLength(11);
  });

  it('gives sectors beyond 2^53 as numbers larger than any disk', () => {
    const slot = new Uint8Array(112);
    new DataView(slot.buffer).setBigUint64(16, 2n ** 64n - 1n, true);
    const decoded = decodeBlkifRequest(x64, slot) as { sector: number };
    expect(decoded.sector).toBeGreaterThan(Number.MAX_SAFE_INTEGER);
  });

  it('round-trips indirect pages of segments', () => {
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 512 }), (segments) => {
        const page = new Uint8Array(4096);
        encodeSegments(page, 0, segments);
        expect(decodeSegments(page, 0, segments.length)).toEqual(segments);
      }),
    );
  });

  it('takes a frontend without a protocol key for a 32-bit one, as Linux’s blkback does', () => {
    expect(abiOfProtocol(undefined)).toBe(x32);
    expect(abiOfProtocol('x86_64-abi')).toBe(x64);
    expect(abiOfProtocol('arm-abi')).toBeUndefined();
    expect(abiOfProtocol('toString')).toBeUndefined();
  });
});
