import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BackendLimits,
  BlkifOp,
  type BlkifRequest,
  BlkifStatus,
  checkRequest,
  checkSegments,
  encodeSegments,
  type IoPlan,
  SEGMENTS_PER_INDIRECT_PAGE,
} from '../../src/block/index.ts';
import { checkIndirectSegments } from '../../src/block/request-validator.ts';
import { rwRequests } from './support/arbitraries.ts';

const limits: BackendLimits = {
  sectors: 1000,
  sectorSize: 512,
  readOnly: false,
  flush: true,
  discard: true,
  maxIndirectSegments: 256,
};

const page = (ref = 8, firstSect = 0, lastSect = 7) => ({ ref, firstSect, lastSect });

function rw(
  op: number,
  sector: number,
  segments = [page()],
  segmentCount = segments.length,
): BlkifRequest {
  return { op, id: 42n, handle: 0, sector, segmentCount, segments } as BlkifRequest;
}

/** The status a request gets (okay when it is to be carried out). */
function status(request: BlkifRequest, over: Partial<BackendLimits> = {}): number {
  const verdict = checkRequest(request, { ...limits, ...over });
  return verdict.kind === 'refuse' ? verdict.status : BlkifStatus.okay;
}

describe('the request validator, case by case (Linux blkback’s checks)', () => {
  const { error, notSupported: unsupported, okay } = BlkifStatus;
  const cases: [string, BlkifRequest, Partial<BackendLimits>, number][] = [
    ['a read inside the disk', rw(BlkifOp.read, 992), {}, okay],
    ['a read ending past the last sector', rw(BlkifOp.read, 993), {}, error],
    ['a read whose end overflows', rw(BlkifOp.read, Number.MAX_SAFE_INTEGER), {}, error],
    ['a read of no segments', rw(BlkifOp.read, 0, []), {}, error],
    ['a read claiming 12 segments', rw(BlkifOp.read, 0, [page()], 12), {}, error],
    ['a segment ending past its page', rw(BlkifOp.read, 0, [page(8, 0, 8)]), {}, error],
    ['a segment ending before it starts', rw(BlkifOp.read, 0, [page(8, 5, 4)]), {}, error],
    ['a write to a read-only disk', rw(BlkifOp.write, 0), { readOnly: true }, error],
    ['a read of a read-only disk', rw(BlkifOp.read, 0), { readOnly: true }, okay],
    ['half a 4 KiB sector', rw(BlkifOp.read, 0, [page(8, 0, 3)]), { sectorSize: 4096 }, error],
    ['a misaligned 4 KiB start', rw(BlkifOp.read, 4), { sectorSize: 4096 }, error],
    ['a whole 4 KiB sector', rw(BlkifOp.read, 8), { sectorSize: 4096 }, okay],
    ['a flush without data', rw(BlkifOp.flushDiskcache, 12345, []), {}, okay],
    [
      'a flush without flush offered',
      rw(BlkifOp.flushDiskcache, 0, []),
      { flush: false },
      unsupported,
    ],
    [
      'a barrier without flush offered',
      rw(BlkifOp.writeBarrier, 0, []),
      { flush: false },
      unsupported,
    ],
    ['a flush on a read-only disk', rw(BlkifOp.flushDiskcache, 0, []), { readOnly: true }, error],
    ['a barrier with data', rw(BlkifOp.writeBarrier, 0), {}, okay],
    ['the reserved operation', { op: BlkifOp.reserved1, id: 1n }, {}, unsupported],
    ['an unknown operation', { op: 200, id: 1n }, {}, unsupported],
    ['a discard', { op: BlkifOp.discard, id: 1n, flag: 0, sector: 10, count: 990 }, {}, okay],
    [
      'a discard past the end',
      { op: BlkifOp.discard, id: 1n, flag: 0, sector: 10, count: 991 },
      {},
      error,
    ],
    [
      'a discard of nothing',
      { op: BlkifOp.discard, id: 1n, flag: 0, sector: 5000, count: 0 },
      {},
      okay,
    ],
    [
      'a discard not offered',
      { op: BlkifOp.discard, id: 1n, flag: 0, sector: 0, count: 1 },
      { discard: false },
      unsupported,
    ],
    [
      'a discard on a read-only disk',
      { op: BlkifOp.discard, id: 1n, flag: 0, sector: 0, count: 1 },
      { readOnly: true },
      error,
    ],
    [
      'a misaligned discard',
      { op: BlkifOp.discard, id: 1n, flag: 0, sector: 0, count: 3 },
      { sectorSize: 4096 },
      error,
    ],
  ];
  it.each(cases)('%s', (_what, request, over, expected) => {
    expect(status(request, over)).toBe(expected);
  });

  const indirect = (indirectOp: number, segmentCount: number): BlkifRequest => ({
    op: BlkifOp.indirect,
    indirectOp,
    id: 9n,
    handle: 0,
    sector: 0,
    segmentCount,
    indirectRefs: [20],
  });

  it('takes an indirect read or write of up to the offered segments, to be read from its pages', () => {
    const verdict = checkRequest(indirect(BlkifOp.write, 256), limits);
    expect(verdict).toMatchObject({
      kind: 'io',
      op: BlkifOp.write,
      indirect: { refs: [20], count: 256 },
    });
    expect(status(indirect(BlkifOp.read, 257))).toBe(BlkifStatus.error);
    expect(status(indirect(BlkifOp.read, 0))).toBe(BlkifStatus.error);
    expect(status(indirect(BlkifOp.read, 5), { maxIndirectSegments: 0 })).toBe(BlkifStatus.error);
    expect(status(indirect(BlkifOp.write, 5), { readOnly: true })).toBe(BlkifStatus.error);
  });

  it('answers an indirect flush or discard as an error carrying that operation', () => {
    for (const op of [BlkifOp.flushDiskcache, BlkifOp.discard, BlkifOp.indirect, 77]) {
      expect(checkRequest(indirect(op, 1), limits)).toMatchObject({
        kind: 'refuse',
        op,
        status: BlkifStatus.error,
      });
    }
  });

  it('makes a flush or barrier carrying data (Linux’s FUA write) flush before and after', () => {
    expect(checkRequest(rw(BlkifOp.flushDiskcache, 8), limits)).toMatchObject({
      kind: 'io',
      write: true,
      preflush: true,
      postflush: true,
    });
    expect(checkRequest(rw(BlkifOp.flushDiskcache, 0, []), limits)).toMatchObject({
      preflush: true,
      postflush: false,
    });
    expect(checkRequest(rw(BlkifOp.write, 8), limits)).toMatchObject({
      preflush: false,
      postflush: false,
    });
  });

  it('judges an indirect request’s segments once read', () => {
    const plan = checkRequest(indirect(BlkifOp.read, 3), limits) as IoPlan;
    expect(checkSegments(plan, [page(), page(), page(9, 0, 3)], limits)).toMatchObject({
      kind: 'io',
      segments: [page(), page(), page(9, 0, 3)],
    });
    expect(checkSegments(plan, [page(), page(8, 3, 2)], limits)).toMatchObject({ kind: 'refuse' });
    const far = { ...plan, sector: 990 };
    expect(checkSegments(far, [page(), page()], limits)).toMatchObject({ kind: 'refuse' });
  });
});

describe('the request validator, over any request', () => {
  const requests: fc.Arbitrary<BlkifRequest> = fc.oneof(
    // Now and then nr_segments claims five more than the slot holds.
    fc
      .tuple(
        rwRequests({
          sector: fc.oneof(fc.nat({ max: 1100 }), fc.nat()),
          segment: fc.record({
            ref: fc.nat(),
            firstSect: fc.nat({ max: 9 }),
            lastSect: fc.nat({ max: 9 }),
          }),
        }),
        fc.nat({ max: 3 }),
      )
      .map(([r, extra]) => ({ ...r, segmentCount: r.segmentCount + (extra === 3 ? 5 : 0) })),
    fc.record({
      op: fc.constant(BlkifOp.discard),
      id: fc.bigInt({ min: 0n, max: 10n }),
      flag: fc.nat({ max: 3 }),
      sector: fc.nat({ max: 1100 }),
      count: fc.nat({ max: 1100 }),
    }),
    fc.record({ op: fc.nat({ max: 255 }), id: fc.bigInt({ min: 0n, max: 10n }) }),
  );
  const anyLimits = fc.record({
    sectors: fc.constantFrom(0, 8, 1000, 1024),
    sectorSize: fc.constantFrom(512, 4096),
    readOnly: fc.boolean(),
    flush: fc.boolean(),
    discard: fc.boolean(),
    maxIndirectSegments: fc.constantFrom(0, 32, 256),
  });

  it('lets through only ranges inside the disk, aligned, writable when written, of whole segments', () => {
    fc.assert(
      fc.property(requests, anyLimits, (request, l) => {
        const verdict = checkRequest(request, l);
        expect(verdict.id).toBe(request.id);
        if (verdict.kind === 'refuse') {
          expect([BlkifStatus.error, BlkifStatus.notSupported]).toContain(verdict.status);
          return;
        }
        const unit = l.sectorSize / 512;
        if (verdict.kind === 'discard') {
          expect(l.discard && !l.readOnly).toBe(true);
          if (verdict.count > 0)
            expect(verdict.sector + verdict.count).toBeLessThanOrEqual(l.sectors);
          expect(verdict.sector % unit).toBe(0);
          return;
        }
        if (verdict.write) expect(l.readOnly).toBe(false);
        if (verdict.preflush) expect(l.flush).toBe(true);
        let count = 0;
        for (const s of verdict.segments) {
          expect(s.firstSect).toBeLessThanOrEqual(s.lastSect);
          expect(s.lastSect).toBeLessThan(8);
          expect((s.lastSect - s.firstSect + 1) % unit).toBe(0);
          count += s.lastSect - s.firstSect + 1;
        }
        if (count > 0) {
          expect(verdict.sector + count).toBeLessThanOrEqual(l.sectors);
          expect(verdict.sector % unit).toBe(0);
        } else {
          expect(verdict.preflush).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('an indirect request’s segments read straight from its pages', () => {
  it('get the verdict their decoded segments get, and list them as they are', () => {
    const segment = fc.record({
      ref: fc.nat({ max: 2 ** 32 - 1 }),
      firstSect: fc.nat({ max: 9 }),
      lastSect: fc.nat({ max: 9 }),
    });
    fc.assert(
      fc.property(
        fc.array(segment, { minLength: 1, maxLength: 1100 }),
        fc.nat({ max: 40_000 }),
        fc.constantFrom(512, 4096),
        (segments, sector, sectorSize) => {
          const l = { ...limits, sectors: 40_000, sectorSize, maxIndirectSegments: 4096 };
          const pages = Array.from(
            { length: Math.ceil(segments.length / SEGMENTS_PER_INDIRECT_PAGE) },
            (_, p) => {
              const page = new Uint8Array(4096).fill(0xee);
              encodeSegments(
                page,
                0,
                segments.slice(
                  p * SEGMENTS_PER_INDIRECT_PAGE,
                  (p + 1) * SEGMENTS_PER_INDIRECT_PAGE,
                ),
              );
              return page;
            },
          );
          const request = { ...indirectRequest(segments.length), sector };
          const plan = checkRequest(request, l) as IoPlan;
          const decoded = checkSegments(plan, segments, l);
          const read = checkIndirectSegments(plan, pages, l);
          if (decoded.kind === 'refuse') {
            expect(read).toEqual(decoded);
            return;
          }
          expect(read).toEqual({
            refs: segments.map((s) => s.ref),
            spans: segments.map((s) => s.firstSect | (s.lastSect << 8)),
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

function indirectRequest(segmentCount: number): BlkifRequest {
  return {
    op: BlkifOp.indirect,
    indirectOp: BlkifOp.write,
    id: 7n,
    handle: 0,
    sector: 0,
    segmentCount,
    indirectRefs: [1, 2, 3],
  };
}
