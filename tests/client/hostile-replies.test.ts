import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Transaction } from '../../src/xenstore/client/transaction.ts';
import { Watch } from '../../src/xenstore/client/watch.ts';
import { XenstoreClient } from '../../src/xenstore/client.ts';
import { WIRE_ERRORS } from '../../src/xenstore/constants.ts';
import { XenstoreError } from '../../src/xenstore/errors.ts';
import { MessageFramer } from '../../src/xenstore/framer.ts';
import { MessageType } from '../../src/xenstore/messages.ts';
import { framedTransport } from '../../src/xenstore/transport/byte-stream.ts';
import type { TransportConnector } from '../../src/xenstore/transport/transport.ts';
import type { Message } from '../../src/xenstore/wire.ts';

/** What the hostile server does with one request. */
type Answer =
  | {
      kind: 'reply';
      type: number | 'same';
      reqId: 'same' | number;
      txId: 'same' | number;
      payload: Uint8Array;
      len?: number;
    }
  | { kind: 'garbage'; bytes: Uint8Array }
  | { kind: 'silence' }
  | { kind: 'hang-up' };

/** Payloads near the grammar's edges, mixed with arbitrary bytes. */
const payloadArbitrary = fc.oneof(
  fc.constantFrom(
    ...[
      '',
      '\0',
      'OK\0',
      'OK',
      '0\0',
      '1\0',
      '4294967295\0',
      '4294967296\0',
      '-1\0',
      '1e3\0',
      'T\0',
      'F\0',
      'zz\0',
      'r0\0',
      'b0\0r5\0',
      'a\0b\0',
      'a/b\0',
      '\0\0',
      '/local/domain/1\0',
      '7\0a\0b\0\0',
      'EINVAL\0',
      'ENOENT\0',
      'nonsense\0',
      '/w\0xenwire:1\0',
    ].map((text) => Buffer.from(text, 'latin1')),
  ),
  fc.uint8Array({ maxLength: 80 }).map((bytes) => Buffer.from(bytes)),
);

const answerArbitrary: fc.Arbitrary<Answer> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record(
      {
        kind: fc.constant('reply' as const),
        type: fc.oneof(
          { weight: 4, arbitrary: fc.constant('same' as const) },
          fc.constantFrom(MessageType.ERROR, MessageType.WATCH_EVENT),
          fc.integer({ min: 0, max: 0xffffffff }),
        ),
        reqId: fc.oneof({ weight: 5, arbitrary: fc.constant('same' as const) }, fc.nat()),
        txId: fc.oneof({ weight: 5, arbitrary: fc.constant('same' as const) }, fc.nat()),
        payload: payloadArbitrary,
        len: fc.oneof(
          { weight: 5, arbitrary: fc.constant(undefined) },
          fc.constantFrom(4097, 0xffffffff),
          fc.integer({ min: 0, max: 100 }),
        ),
      },
      { requiredKeys: ['kind', 'type', 'reqId', 'txId', 'payload'] },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('garbage' as const),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'silence' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'hang-up' as const }) },
);

function frame(request: Message, answer: Extract<Answer, { kind: 'reply' }>): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt32LE(answer.type === 'same' ? request.type : answer.type, 0);
  header.writeUInt32LE(answer.reqId === 'same' ? request.reqId : answer.reqId, 4);
  header.writeUInt32LE(answer.txId === 'same' ? request.txId : answer.txId, 8);
  header.writeUInt32LE(answer.len ?? answer.payload.length, 12);
  return Buffer.concat([header, answer.payload]);
}

/**
 * A server at the other end of a byte stream that answers the n-th request with `answers[n]`
 * (and nothing once they run out), cut into chunks of the given sizes, one per turn of the loop.
 */
function hostileServer(
  answers: readonly Answer[],
  cuts: readonly number[],
  seen: Message[],
): TransportConnector {
  return async (handlers) =>
    framedTransport(handlers, (bytes) => {
      const framer = new MessageFramer();
      let next = 0;
      let closed = false;
      const deliver = (data: Buffer): void => {
        let at = 0;
        for (let k = 0; at < data.length; k++) {
          const piece = data.subarray(at, at + cuts[k % cuts.length]!);
          at += piece.length;
          setImmediate(() => {
            if (!closed) bytes.onData(piece);
          });
        }
      };
      return {
        write(chunk) {
          for (const request of framer.push(chunk)) {
            seen.push(request);
            const answer = answers[next++];
            if (answer === undefined || answer.kind === 'silence') continue;
            if (answer.kind === 'hang-up') {
              setImmediate(() => {
                if (closed) return;
                closed = true;
                bytes.onClose();
              });
            } else {
              deliver(
                answer.kind === 'garbage' ? Buffer.from(answer.bytes) : frame(request, answer),
              );
            }
          }
        },
        close() {
          closed = true;
        },
      };
    });
}

const isString = (v: unknown): boolean => typeof v === 'string';
const isUint32 = (v: unknown): boolean =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;

/** Every client call, with what its value must be when it resolves. */
const calls: Record<
  string,
  { run: (xs: XenstoreClient) => Promise<unknown>; valid: (v: unknown) => boolean }
> = {
  read: { run: (xs) => xs.read('/a'), valid: (v) => Buffer.isBuffer(v) },
  readString: { run: (xs) => xs.readString('/a'), valid: isString },
  write: { run: (xs) => xs.write('/a', 'v'), valid: (v) => v === undefined },
  mkdir: { run: (xs) => xs.mkdir('/a'), valid: (v) => v === undefined },
  rm: { run: (xs) => xs.rm('/a'), valid: (v) => v === undefined },
  directory: {
    run: (xs) => xs.directory('/a'),
    valid: (v) =>
      Array.isArray(v) && v.every((name) => isString(name) && name !== '' && !name.includes('/')),
  },
  getPermissions: {
    run: (xs) => xs.getPermissions('/a'),
    valid: (v) =>
      Array.isArray(v) &&
      v.length > 0 &&
      v.every((p) => ['r', 'w', 'b', 'n'].includes(p.access) && Number.isInteger(p.domid)),
  },
  setPermissions: {
    run: (xs) => xs.setPermissions('/a', [{ access: 'n', domid: 0 }]),
    valid: (v) => v === undefined,
  },
  exists: { run: (xs) => xs.exists('/a'), valid: (v) => typeof v === 'boolean' },
  transactionStart: {
    run: (xs) => xs.transactionStart(),
    valid: (v) => v instanceof Transaction && isUint32(v.id) && v.id !== 0,
  },
  transaction: {
    run: (xs) =>
      xs.transaction(
        async (tx) => {
          await tx.write('/t', 'inside');
          return 'committed';
        },
        { maxAttempts: 2, maxBackoff: 1 },
      ),
    valid: (v) => v === 'committed',
  },
  watch: { run: (xs) => xs.watch('/w'), valid: (v) => v instanceof Watch },
  getDomainPath: { run: (xs) => xs.getDomainPath(1), valid: isString },
  isDomainIntroduced: {
    run: (xs) => xs.isDomainIntroduced(1),
    valid: (v) => typeof v === 'boolean',
  },
  getFeature: { run: (xs) => xs.getFeature(), valid: isUint32 },
  getQuota: {
    run: (xs) => xs.getQuota('nodes'),
    valid: (v) => Number.isInteger(v) && (v as number) >= 0,
  },
  listQuotas: { run: (xs) => xs.listQuotas(), valid: (v) => Array.isArray(v) && v.every(isString) },
  control: { run: (xs) => xs.control(['log']), valid: (v) => Buffer.isBuffer(v) },
  introduceDomain: { run: (xs) => xs.introduceDomain(1, 1, 1), valid: (v) => v === undefined },
};

const knownCodes = new Set<string>([
  ...WIRE_ERRORS,
  'EPROTO',
  'ETIMEDOUT',
  'ECONNRESET',
  'ABORT_ERR',
]);

/** A reply timeout short enough that silence costs little; every call must settle by then. */
const TIMEOUT_MS = 40;
/** Longer than any call may take: the timeout plus a transaction's retry. */
const HANG_MS = 2_000;

describe('a client facing a hostile server', () => {
  it('never crashes, hangs or resolves with a value of the wrong type, whatever the reply bytes', async () => {
    const names = Object.keys(calls);
    let settled = 0;
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...names), { minLength: 1, maxLength: 6 }),
        fc.array(answerArbitrary, { maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 48 }), { minLength: 1, maxLength: 6 }),
        async (chosen, answers, cuts) => {
          const seen: Message[] = [];
          const diagnostics: XenstoreError[] = [];
          const xs = await XenstoreClient.connect({
            transport: hostileServer(answers, cuts, seen),
            timeout: TIMEOUT_MS,
            busyPoll: false,
          });
          xs.on('diagnostic', (error) => diagnostics.push(error));
          try {
            const outcomes = chosen.map((name) => {
              let promise: Promise<unknown>;
              try {
                promise = calls[name]!.run(xs);
              } catch (error) {
                throw new Error(`${name} threw synchronously: ${String(error)}`);
              }
              return promise.then(
                (value) => ({ name, value, error: undefined }),
                (error: unknown) => ({ name, value: undefined, error }),
              );
            });
            let timer: NodeJS.Timeout | undefined;
            const hang = new Promise<never>((_, reject) => {
              timer = setTimeout(
                () => reject(new Error(`calls still pending after ${HANG_MS} ms`)),
                HANG_MS,
              );
            });
            const results = await Promise.race([Promise.all(outcomes), hang]).finally(() =>
              clearTimeout(timer),
            );
            for (const { name, value, error } of results) {
              settled++;
              if (error === undefined) {
                expect([name, calls[name]!.valid(value)]).toEqual([name, true]);
              } else {
                rejected++;
                expect(error).toBeInstanceOf(XenstoreError);
                expect([name, knownCodes.has((error as XenstoreError).code)]).toEqual([name, true]);
              }
            }
            // A transaction's writes carry its id, never 0: they never go out as plain writes.
            for (const request of seen) {
              if (
                request.type === MessageType.WRITE &&
                Buffer.from(request.payload).toString('latin1').startsWith('/t\0')
              ) {
                expect(request.txId).not.toBe(0);
              }
            }
            for (const error of diagnostics) expect(error.code).toBe('EPROTO');
          } finally {
            await xs.close();
          }
        },
      ),
      { numRuns: 150 },
    );
    console.log(
      `hostile replies: ${settled} calls settled, ${rejected} rejected with a typed error`,
    );
  }, 120_000);
});
