import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WIRE_ERRORS } from '../../src/xenstore/constants.ts';
import { MessageType } from '../../src/xenstore/messages.ts';
import { joinStrings } from '../../src/xenstore/payload.ts';
import {
  booleanPayload,
  decodeReply,
  decodeWatchEvent,
  directoryPartPayload,
  errorMessage,
  listPayload,
  permissionsPayload,
  replyMessage,
  stringPayload,
  watchEventMessage,
} from '../../src/xenstore/replies.ts';
import { encodeMessage, type Message } from '../../src/xenstore/wire.ts';
import { permission, token } from './arbitraries.ts';

const ids = { reqId: 4, txId: 0 };
const reply = (type: number, payload: string): Message => ({
  type,
  ...ids,
  payload: Buffer.from(payload, 'latin1'),
});

describe('reply decoding', () => {
  it('READ returns the raw bytes, nuls included, without a terminator', () => {
    const value = decodeReply('READ', reply(MessageType.READ, 'a\0b'));
    expect(Buffer.from(value).toString('latin1')).toBe('a\0b');
  });

  it('an empty DIRECTORY payload is no children', () => {
    expect(decodeReply('DIRECTORY', reply(MessageType.DIRECTORY, ''))).toEqual([]);
    expect(decodeReply('DIRECTORY', reply(MessageType.DIRECTORY, 'a\0bb\0'))).toEqual(['a', 'bb']);
  });

  it('parses the value-carrying replies', () => {
    expect(decodeReply('GET_PERMS', reply(MessageType.GET_PERMS, 'n0\0r5\0'))).toEqual([
      { access: 'n', domid: 0 },
      { access: 'r', domid: 5 },
    ]);
    expect(decodeReply('TRANSACTION_START', reply(MessageType.TRANSACTION_START, '17\0'))).toBe(17);
    expect(
      decodeReply('GET_DOMAIN_PATH', reply(MessageType.GET_DOMAIN_PATH, '/local/domain/3\0')),
    ).toBe('/local/domain/3');
    expect(
      decodeReply('IS_DOMAIN_INTRODUCED', reply(MessageType.IS_DOMAIN_INTRODUCED, 'T\0')),
    ).toBe(true);
    expect(
      decodeReply('IS_DOMAIN_INTRODUCED', reply(MessageType.IS_DOMAIN_INTRODUCED, 'F\0')),
    ).toBe(false);
    expect(decodeReply('GET_FEATURE', reply(MessageType.GET_FEATURE, '3\0'))).toBe(3);
    expect(decodeReply('GET_QUOTA', reply(MessageType.GET_QUOTA, 'nodes watches\0'))).toBe(
      'nodes watches',
    );
    expect(decodeReply('WRITE', reply(MessageType.WRITE, 'OK\0'))).toBeUndefined();
  });

  it('turns every wire error name into that code', () => {
    for (const name of WIRE_ERRORS) {
      expect(() => decodeReply('READ', errorMessage(ids, name))).toThrow(
        expect.objectContaining({ code: name, op: 'READ' }),
      );
    }
  });

  it('maps an unknown error name to EINVAL, as libxenstore does', () => {
    expect(() => decodeReply('READ', reply(MessageType.ERROR, 'EWHAT\0'))).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
  });

  it('rejects a reply of another type or a malformed value with EPROTO', () => {
    for (const [op, message] of [
      ['READ', reply(MessageType.DIRECTORY, '')],
      ['TRANSACTION_START', reply(MessageType.TRANSACTION_START, 'x\0')],
      ['IS_DOMAIN_INTRODUCED', reply(MessageType.IS_DOMAIN_INTRODUCED, 'maybe\0')],
      ['DIRECTORY', reply(MessageType.DIRECTORY, 'a\0b')],
      ['WRITE', reply(MessageType.WRITE, 'NO\0')],
    ] as const) {
      expect(() => decodeReply(op, message)).toThrow(expect.objectContaining({ code: 'EPROTO' }));
    }
  });

  it('takes a DIRECTORY listing only of nul-terminated names, none empty, none with a slash', () => {
    // What the listing must be, name by name.
    const model = (payload: string): string[] | 'EPROTO' => {
      if (payload === '') return [];
      if (!payload.endsWith('\0')) return 'EPROTO';
      const names = payload.slice(0, -1).split('\0');
      return names.some((name) => name === '' || name.includes('/')) ? 'EPROTO' : names;
    };
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', 'é', '/', '\0'), maxLength: 12 }),
        (text) => {
          const expected = model(text);
          const decode = () => decodeReply('DIRECTORY', reply(MessageType.DIRECTORY, text));
          if (expected === 'EPROTO') {
            expect(decode).toThrow(expect.objectContaining({ code: 'EPROTO' }));
          } else {
            expect(decode()).toEqual(expected);
          }
        },
      ),
    );
  });

  it('round-trips WATCH_EVENT with req_id and tx_id 0', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }).filter((s) => !s.includes('\0')),
        token,
        (path, tok) => {
          const message = watchEventMessage({ path, token: tok });
          expect(message.reqId).toBe(0);
          expect(message.txId).toBe(0);
          expect(encodeMessage(message).subarray(0, 4).readUInt32LE(0)).toBe(15);
          expect(decodeWatchEvent(message.payload)).toEqual({
            path: Buffer.from(path).toString('latin1'),
            token: Buffer.from(tok).toString('latin1'),
          });
        },
      ),
    );
  });

  it('round-trips the server-side payload builders', () => {
    fc.assert(
      fc.property(fc.array(permission, { minLength: 1, maxLength: 5 }), (perms) => {
        const m = replyMessage(MessageType.GET_PERMS, ids, permissionsPayload(perms));
        expect(decodeReply('GET_PERMS', m)).toEqual(perms);
      }),
    );
    expect(
      decodeReply('DIRECTORY', replyMessage(MessageType.DIRECTORY, ids, listPayload([]))),
    ).toEqual([]);
    expect(
      decodeReply(
        'GET_DOMAIN_PATH',
        replyMessage(MessageType.GET_DOMAIN_PATH, ids, stringPayload('/x')),
      ),
    ).toBe('/x');
    expect(
      decodeReply(
        'IS_DOMAIN_INTRODUCED',
        replyMessage(MessageType.IS_DOMAIN_INTRODUCED, ids, booleanPayload(true)),
      ),
    ).toBe(true);
    expect(encodeMessage(replyMessage(MessageType.RM, ids)).subarray(16).toString()).toBe('OK\0');
  });
});

describe('DIRECTORY_PART', () => {
  it('marks the last slice with an extra nul', () => {
    expect(decodeReply('DIRECTORY_PART', reply(MessageType.DIRECTORY_PART, '7\0a\0b\0\0'))).toEqual(
      {
        generation: '7',
        children: ['a', 'b'],
        complete: true,
        length: 4,
      },
    );
    expect(decodeReply('DIRECTORY_PART', reply(MessageType.DIRECTORY_PART, '7\0\0'))).toEqual({
      generation: '7',
      children: [],
      complete: true,
      length: 0,
    });
    expect(
      decodeReply('DIRECTORY_PART', reply(MessageType.DIRECTORY_PART, '7\0a\0')),
    ).toMatchObject({
      children: ['a'],
      complete: false,
    });
  });

  it('slices built by the server reassemble into the whole list, each within the payload limit', () => {
    const name = fc.string({
      unit: fc.constantFrom(...'abcdefgh0123-_'),
      minLength: 1,
      maxLength: 60,
    });
    fc.assert(
      fc.property(
        fc.array(name, { maxLength: 300 }),
        fc.integer({ min: 80, max: 4096 }),
        (names, room) => {
          const list = joinStrings(names);
          const got: string[] = [];
          let offset = 0;
          for (let guard = 0; guard < 10_000; guard++) {
            const payload = directoryPartPayload('12', list, offset, room);
            expect(payload.length).toBeLessThanOrEqual(room);
            const part = decodeReply(
              'DIRECTORY_PART',
              replyMessage(MessageType.DIRECTORY_PART, ids, payload),
            );
            expect(part.generation).toBe('12');
            got.push(...part.children);
            offset += part.length;
            if (part.complete) break;
          }
          expect(got).toEqual(names);
        },
      ),
    );
  });
});
