import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { atoi, atou, strtolWhole } from '../../src/xenstore/numbers.ts';

describe('numbers as C xenstored reads them', () => {
  it('reads atoi style: blanks, sign, leading digits, no digits is 0', () => {
    expect(['007', ' +12x', '\t-3', 'x', '', '-', '12 3'].map(atoi)).toEqual([
      7, 12, -3, 0, 0, 0, 12,
    ]);
  });

  it('keeps the low 32 bits, signed, of a clamped 64-bit value', () => {
    expect(
      [
        '4294967297',
        '-4294967295',
        '2147483648',
        '99999999999999999999',
        '-99999999999999999999',
      ].map(atoi),
    ).toEqual([1, 1, -2147483648, -1, 0]);
    expect(['-1', '4294967296', 'abc'].map(atou)).toEqual([4294967295, 0, 0]);
  });

  it('reads any 64-bit number modulo 2^32, with whatever follows it', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.string(), (n, tail) => {
        const text = `${n}${/^\d/.test(tail) ? '' : tail}`;
        expect(atoi(text)).toBe(Number(BigInt.asIntN(32, n)));
        expect(atou(text)).toBe(Number(BigInt.asUintN(32, n)));
      }),
    );
  });

  it('reads a whole strtol base 0 number, or nothing', () => {
    expect(['0x10', '010', ' -0X1f', '+7', '0'].map(strtolWhole)).toEqual([16, 8, -31, 7, 0]);
    expect(['0x', '08', '1x', '', ' ', '+'].map(strtolWhole)).toEqual(Array(6).fill(undefined));
  });
});
