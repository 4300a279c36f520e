import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeviceError, isDeviceError } from '../../src/device/errors.ts';
import { EvtchnError, isEvtchnError } from '../../src/evtchn/errors.ts';
import { isRingError, RingError, RingIndexError } from '../../src/ring/errors.ts';
import { WIRE_ERRORS } from '../../src/xenstore/constants.ts';
import {
  isXenstoreError,
  XenstoreError,
  type XenstoreErrorCode,
} from '../../src/xenstore/errors.ts';

const code = fc.constantFrom<XenstoreErrorCode>(
  ...WIRE_ERRORS,
  'EPROTO',
  'ETIMEDOUT',
  'ECONNRESET',
  'ABORT_ERR',
  'EALREADY',
);
const optional = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined });

describe('XenstoreError', () => {
  it('is the same error from the options object and from the positional arguments', () => {
    fc.assert(
      fc.property(
        code,
        optional(fc.string()),
        optional(fc.constantFrom('READ', 'WRITE', 'WATCH')),
        optional(fc.string()),
        optional(fc.anything()),
        (code, message, op, path, cause) => {
          const byOptions = new XenstoreError(code, {
            message,
            op,
            path,
            ...(cause === undefined ? {} : { cause }),
          });
          const byPosition = new XenstoreError(
            code,
            message,
            op,
            path,
            cause === undefined ? undefined : { cause },
          );
          for (const error of [byOptions, byPosition]) {
            expect(error.code).toBe(code);
            expect(error.op).toBe(op);
            expect(error.path).toBe(path);
            expect('cause' in error).toBe(cause !== undefined);
            if (cause !== undefined) expect(error.cause).toBe(cause);
            expect(error.message).toBe(
              message ?? [code, [op, path].filter(Boolean).join(' ')].filter(Boolean).join(': '),
            );
            expect(error.name).toBe(code === 'ABORT_ERR' ? 'AbortError' : 'XenstoreError');
            expect(error).toBeInstanceOf(Error);
          }
          expect(byOptions.errno).toBe(byPosition.errno);
        },
      ),
    );
  });

  it('names an aborted request AbortError, as Node names its own, and keeps its code', () => {
    const aborted = new XenstoreError('ABORT_ERR', { op: 'READ', path: '/x' });
    expect([aborted.name, aborted.code, aborted.message]).toEqual([
      'AbortError',
      'ABORT_ERR',
      'ABORT_ERR: READ /x',
    ]);
    expect(String(aborted)).toBe('AbortError: ABORT_ERR: READ /x');
    expect(isXenstoreError(aborted, 'ABORT_ERR')).toBe(true);
    expect(new XenstoreError('ENOENT').errno).toBe(2);
    expect(new XenstoreError('ETIMEDOUT').errno).toBe(110);
  });
});

describe('error guards', () => {
  it('tell each library error apart, by class and by code', () => {
    const ring = new RingError('ENOSPC', 'full');
    const index = new RingIndexError('req', 0, 2000, 1024);
    const device = new DeviceError('ENOSYS', 'no addon');
    const evtchn = new EvtchnError('EBADF', 'closed port');
    const others = [new Error('plain'), { code: 'ENOSPC' }, undefined, 'ENOSPC'];

    expect(isRingError(ring)).toBe(true);
    expect(isRingError(ring, 'ENOSPC')).toBe(true);
    expect(isRingError(ring, 'EPROTO')).toBe(false);
    expect(isRingError(index, 'EPROTO')).toBe(true);
    expect(isEvtchnError(evtchn, 'EBADF')).toBe(true);
    expect(isEvtchnError(evtchn, 'EINVAL')).toBe(false);
    expect(isEvtchnError(device)).toBe(false);
    expect(isDeviceError(evtchn, 'EBADF')).toBe(true);
    expect(isDeviceError(device, 'ENOSYS')).toBe(true);
    for (const other of [...others, new XenstoreError('ENOSPC')]) {
      expect(isRingError(other)).toBe(false);
      expect(isEvtchnError(other)).toBe(false);
      expect(isDeviceError(other)).toBe(false);
    }
    for (const other of [...others, ring, device]) expect(isXenstoreError(other)).toBe(false);
  });
});
