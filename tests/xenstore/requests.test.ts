import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { XenstoreError } from '../../src/xenstore/errors.ts';
import { MessageType } from '../../src/xenstore/messages.ts';
import {
  decodeRequest,
  encodeRequest,
  encodeRequestPayload,
  type Request,
} from '../../src/xenstore/requests.ts';
import { decodeMessage, encodeMessage, type Message } from '../../src/xenstore/wire.ts';
import { request } from './arbitraries.ts';

/** Characters of every UTF-8 length, the one-byte and Latin-1 ranges well represented. */
const pathUnit = fc.oneof(
  fc.integer({ min: 0, max: 0x3ff }).map((code) => String.fromCharCode(code)),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
);

const hex = (m: Message) => encodeMessage(m).toString('hex');
const raw = (type: number, payload: string): Message => ({
  type,
  reqId: 0,
  txId: 0,
  payload: Buffer.from(payload, 'latin1'),
});

function normalise(req: Request): unknown {
  // INTRODUCE's frame number comes back as a bigint whatever it was sent as; values as views.
  if (req.op === 'INTRODUCE') return { ...req, gfn: BigInt(req.gfn) };
  if (req.op === 'WRITE') return { ...req, value: Buffer.from(req.value).toString('hex') };
  return req;
}

describe('request encoding', () => {
  // Hand-built from xs_wire.h: header = type, req_id, tx_id, len as little-endian u32.
  it.each<[string, Request, number, string]>([
    [
      'READ',
      { op: 'READ', path: '/local' },
      0,
      '02000000 05000000 00000000 07000000 2f6c6f63616c00',
    ],
    [
      'WRITE keeps nuls and no terminator',
      { op: 'WRITE', path: '/a', value: Buffer.from('x\0y') },
      0,
      '0b000000 05000000 00000000 06000000 2f6100 780079',
    ],
    ['MKDIR', { op: 'MKDIR', path: '/a' }, 3, '0c000000 05000000 03000000 03000000 2f6100'],
    ['RM', { op: 'RM', path: '/a' }, 0, '0d000000 05000000 00000000 03000000 2f6100'],
    ['DIRECTORY', { op: 'DIRECTORY', path: '/' }, 0, '01000000 05000000 00000000 02000000 2f00'],
    [
      'DIRECTORY_PART',
      { op: 'DIRECTORY_PART', path: '/', offset: 10 },
      0,
      '16000000 05000000 00000000 05000000 2f00 313000',
    ],
    ['GET_PERMS', { op: 'GET_PERMS', path: '/' }, 0, '03000000 05000000 00000000 02000000 2f00'],
    [
      'SET_PERMS',
      {
        op: 'SET_PERMS',
        path: '/a',
        perms: [
          { access: 'n', domid: 0 },
          { access: 'r', domid: 5 },
        ],
      },
      0,
      '0e000000 05000000 00000000 09000000 2f6100 6e3000 723500',
    ],
    [
      'WATCH',
      { op: 'WATCH', path: '/a', token: 't' },
      0,
      '04000000 05000000 00000000 05000000 2f6100 7400',
    ],
    [
      'UNWATCH',
      { op: 'UNWATCH', path: '/a', token: 't' },
      0,
      '05000000 05000000 00000000 05000000 2f6100 7400',
    ],
    ['TRANSACTION_START', { op: 'TRANSACTION_START' }, 0, '06000000 05000000 00000000 01000000 00'],
    [
      'TRANSACTION_END commit',
      { op: 'TRANSACTION_END', commit: true },
      9,
      '07000000 05000000 09000000 02000000 5400',
    ],
    [
      'TRANSACTION_END abort',
      { op: 'TRANSACTION_END', commit: false },
      9,
      '07000000 05000000 09000000 02000000 4600',
    ],
    [
      'INTRODUCE',
      { op: 'INTRODUCE', domid: 1, gfn: -2, port: 3 },
      0,
      '08000000 05000000 00000000 07000000 3100 2d3200 3300',
    ],
    ['RELEASE', { op: 'RELEASE', domid: 1 }, 0, '09000000 05000000 00000000 02000000 3100'],
    [
      'GET_DOMAIN_PATH',
      { op: 'GET_DOMAIN_PATH', domid: 12 },
      0,
      '0a000000 05000000 00000000 03000000 313200',
    ],
    [
      'IS_DOMAIN_INTRODUCED',
      { op: 'IS_DOMAIN_INTRODUCED', domid: 1 },
      0,
      '11000000 05000000 00000000 02000000 3100',
    ],
    ['RESUME', { op: 'RESUME', domid: 1 }, 0, '12000000 05000000 00000000 02000000 3100'],
    [
      'SET_TARGET',
      { op: 'SET_TARGET', domid: 1, target: 2 },
      0,
      '13000000 05000000 00000000 04000000 3100 3200',
    ],
    ['RESET_WATCHES', { op: 'RESET_WATCHES' }, 0, '15000000 05000000 00000000 00000000'],
    [
      'CONTROL',
      { op: 'CONTROL', args: ['log', 'on'] },
      0,
      '00000000 05000000 00000000 07000000 6c6f6700 6f6e00',
    ],
    ['GET_FEATURE server', { op: 'GET_FEATURE' }, 0, '17000000 05000000 00000000 00000000'],
    [
      'GET_FEATURE domain',
      { op: 'GET_FEATURE', domid: 3 },
      0,
      '17000000 05000000 00000000 02000000 3300',
    ],
    [
      'SET_FEATURE',
      { op: 'SET_FEATURE', domid: 3, value: 5 },
      0,
      '18000000 05000000 00000000 04000000 3300 3500',
    ],
    ['GET_QUOTA names', { op: 'GET_QUOTA' }, 0, '19000000 05000000 00000000 00000000'],
    [
      'GET_QUOTA of a domain',
      { op: 'GET_QUOTA', domid: 3, quota: 'nodes' },
      0,
      '19000000 05000000 00000000 08000000 3300 6e6f64657300',
    ],
    [
      'SET_QUOTA global',
      { op: 'SET_QUOTA', quota: 'nodes', value: 9 },
      0,
      '1a000000 05000000 00000000 08000000 6e6f64657300 3900',
    ],
  ])('%s', (_name, req, txId, expected) => {
    const message = encodeRequest(req, { reqId: 5, txId });
    expect(hex(message)).toBe(expected.replaceAll(' ', ''));
    // The frame a client writes is those very bytes, in one buffer.
    expect(Buffer.from(message.frame!).toString('hex')).toBe(expected.replaceAll(' ', ''));
    expect(normalise(decodeRequest(decodeMessage(encodeMessage(message))))).toEqual(normalise(req));
  });

  it('round-trips every request type through bytes', () => {
    fc.assert(
      fc.property(request, fc.nat(), fc.nat(), (req, reqId, txId) => {
        const ids = { reqId: reqId >>> 0, txId: txId >>> 0 };
        const encoded = encodeRequest(req, ids);
        const bytes = encodeMessage(encoded);
        expect(Buffer.from(encoded.frame!)).toEqual(bytes);
        expect(Buffer.from(encoded.payload)).toEqual(encodeRequestPayload(req));
        const back = decodeMessage(bytes);
        expect(back.type).toBe(MessageType[req.op]);
        expect(back.reqId).toBe(ids.reqId);
        expect(back.txId).toBe(ids.txId);
        expect(normalise(decodeRequest(back))).toEqual(normalise(req));
      }),
    );
  });
  it('writes any path as UTF-8 then a nul, whatever its characters', () => {
    // Valid paths are ASCII and take a shortcut; anything else (a server's own trees, a caller
    // bypassing validation) must come out as the UTF-8 encoder would write it.
    fc.assert(
      fc.property(fc.string({ unit: pathUnit, maxLength: 40 }), fc.uint8Array(), (path, value) => {
        const utf8 = Buffer.from(path, 'utf8');
        expect(encodeRequestPayload({ op: 'READ', path })).toEqual(
          Buffer.concat([utf8, Buffer.of(0)]),
        );
        expect(encodeRequestPayload({ op: 'WRITE', path, value })).toEqual(
          Buffer.concat([utf8, Buffer.of(0), value]),
        );
      }),
    );
  });
});

describe('request decoding rejects what the grammar forbids', () => {
  it.each<[string, number, string]>([
    ['READ without terminator', MessageType.READ, '/a'],
    ['READ with two strings', MessageType.READ, '/a\0/b\0'],
    ['READ with empty payload', MessageType.READ, ''],
    ['WRITE without a nul after the path', MessageType.WRITE, '/a'],
    ['SET_PERMS without a permission', MessageType.SET_PERMS, '/a\0'],
    ['SET_PERMS with a bad letter', MessageType.SET_PERMS, '/a\0x0\0'],
    ['SET_PERMS with no domid', MessageType.SET_PERMS, '/a\0r\0'],
    ['SET_PERMS with trailing junk', MessageType.SET_PERMS, '/a\0r1x\0'],
    ['WATCH with one string', MessageType.WATCH, '/a\0'],
    ['WATCH with a negative depth', MessageType.WATCH, '/a\0t\0-1\0'],
    ['UNWATCH with three strings', MessageType.UNWATCH, '/a\0t\0x\0'],
    ['TRANSACTION_END other than T/F', MessageType.TRANSACTION_END, 'X\0'],
    ['TRANSACTION_END unterminated', MessageType.TRANSACTION_END, 'T'],
    ['INTRODUCE with two strings', MessageType.INTRODUCE, '1\x002\0'],
    ['SET_TARGET with one string', MessageType.SET_TARGET, '1\0'],
    ['DIRECTORY_PART without offset', MessageType.DIRECTORY_PART, '/a\0'],
  ])('%s → EINVAL', (_name, type, payload) => {
    expect(() => decodeRequest(raw(type, payload))).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
  });

  it.each([
    ['the removed RESTRICT', 20],
    ['WATCH_EVENT (server to client)', 15],
    ['ERROR (server to client)', 16],
    ['XS_INVALID', 0xffff],
    ['past the last type', 27],
  ])('%s → ENOSYS', (_name, type) => {
    const err = (() => {
      try {
        decodeRequest(raw(type, ''));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(XenstoreError);
    expect((err as XenstoreError).code).toBe('ENOSYS');
  });

  it('reads multi-string requests as C does: extra strings and bytes after the last nul ignored', () => {
    expect(decodeRequest(raw(MessageType.SET_TARGET, '7\0 1\0 7\0 1\0'))).toEqual({
      op: 'SET_TARGET',
      domid: 7,
      target: 1,
    });
    expect(decodeRequest(raw(MessageType.SET_TARGET, '7\0\0junk'))).toEqual({
      op: 'SET_TARGET',
      domid: 7,
      target: 0,
    });
    expect(decodeRequest(raw(MessageType.WATCH, '/a\0t\0junk'))).toEqual({
      op: 'WATCH',
      path: '/a',
      token: 't',
    });
    expect(decodeRequest(raw(MessageType.SET_PERMS, '/a\0r1\0junk'))).toEqual({
      op: 'SET_PERMS',
      path: '/a',
      perms: [{ access: 'r', domid: 1 }],
    });
    expect(decodeRequest(raw(MessageType.CONTROL, 'quota\0\0x'))).toEqual({
      op: 'CONTROL',
      args: ['quota', ''],
    });
    // Requests of one string still need exactly that string.
    expect(() => decodeRequest(raw(MessageType.RELEASE, '1\0junk'))).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    expect(() => decodeRequest(raw(MessageType.DIRECTORY_PART, '/a\0' + '1\0\0'))).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
  });

  it('reads domids like C atoi', () => {
    expect(decodeRequest(raw(MessageType.GET_DOMAIN_PATH, '007\0'))).toEqual({
      op: 'GET_DOMAIN_PATH',
      domid: 7,
    });
    expect(decodeRequest(raw(MessageType.RELEASE, 'abc\0'))).toEqual({ op: 'RELEASE', domid: 0 });
    expect(decodeRequest(raw(MessageType.DIRECTORY_PART, '/a\0x\0'))).toEqual({
      op: 'DIRECTORY_PART',
      path: '/a',
      offset: 0,
    });
    expect(decodeRequest(raw(MessageType.INTRODUCE, '3\0junk\x005\0'))).toEqual({
      op: 'INTRODUCE',
      domid: 3,
      gfn: 0n,
      port: 5,
    });
  });
});
