import fc from 'fast-check';
import { BlkifOp, type BlkifRwRequest, type BlkifSegment } from '../../../src/block/index.ts';

/** Any 64-bit request id. */
export const anyId = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });

/** Read, write, barrier and flush requests of up to 11 segments from the given parts. */
export function rwRequests(parts: {
  sector: fc.Arbitrary<number>;
  segment: fc.Arbitrary<BlkifSegment>;
  handle?: fc.Arbitrary<number>;
}): fc.Arbitrary<BlkifRwRequest> {
  return fc
    .record({
      op: fc.constantFrom(
        BlkifOp.read,
        BlkifOp.write,
        BlkifOp.writeBarrier,
        BlkifOp.flushDiskcache,
      ),
      id: anyId,
      handle: parts.handle ?? fc.constant(0),
      sector: parts.sector,
      segments: fc.array(parts.segment, { maxLength: 11 }),
    })
    .map((r) => ({ ...r, segmentCount: r.segments.length }));
}
