import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frameRequest } from '../../src/xenstore/client/frame.ts';
import { encodeRequest, type Request } from '../../src/xenstore/requests.ts';
import { encodeMessage } from '../../src/xenstore/wire.ts';

const path = fc.stringMatching(/^\/[A-Za-z0-9_@-]{0,20}(\/[A-Za-z0-9_@-]{1,20}){0,3}$/);
const request: fc.Arbitrary<Request> = fc.oneof(
  fc.record({
    op: fc.constantFrom('READ', 'MKDIR', 'RM', 'DIRECTORY', 'GET_PERMS' as const),
    path,
  }),
  fc.record({ op: fc.constant('WRITE' as const), path, value: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ op: fc.constant('WATCH' as const), path, token: fc.string({ maxLength: 8 }) }),
  fc.record({ op: fc.constant('DIRECTORY_PART' as const), path, offset: fc.nat() }),
  fc.constant({ op: 'TRANSACTION_START' as const }),
  fc.record({ op: fc.constant('GET_DOMAIN_PATH' as const), domid: fc.nat(0xffff) }),
);

describe('request framing', () => {
  it('produces exactly the codec’s bytes for every request', () => {
    fc.assert(
      fc.property(request, fc.nat(), fc.nat(), (req, reqId, txId) => {
        const framed = frameRequest(req, reqId >>> 0, txId >>> 0);
        const expected = encodeMessage(
          encodeRequest(req, { reqId: reqId >>> 0, txId: txId >>> 0 }),
        );
        expect(Buffer.from(framed.frame!)).toEqual(expected);
        expect(Buffer.from(framed.payload)).toEqual(expected.subarray(16));
      }),
    );
  });
});
