/**
 * Numbers in request payloads, read as C xenstored reads them, so that a server and its clients
 * agree with it on every text, not only on plain decimals: `atoi` for domids, event channels,
 * offsets and quota values, `strtol(.., 0)` for the domids of permission entries. Both skip
 * leading blanks, take a sign, stop at the first character that is not a digit, clamp at the
 * limits of a 64-bit `long` and keep the low 32 bits of the result.
 */

const LONG_MAX = 2n ** 63n - 1n;
const LONG_MIN = -LONG_MAX - 1n;
const BLANKS = /^[\t\n\v\f\r ]*([+-]?)/;
const DIGITS = { 8: /^[0-7]*/, 10: /^[0-9]*/, 16: /^[0-9a-fA-F]*/ } as const;

/** What C's `strtol(text, &end, base)` reads: the value and where reading stopped (`end`). */
export interface CLong {
  /** The number, clamped to a 64-bit long. */
  readonly value: bigint;
  /** Characters read; 0 when no digit was found (`end` left at the start). */
  readonly end: number;
}

/** C's `strtol` with base 10, or base 0 (a `0x` prefix reads hex, a leading `0` octal). */
export function strtol(text: string, base: 0 | 10): CLong {
  const sign = BLANKS.exec(text)!;
  let at = sign[0].length;
  let radix: 8 | 10 | 16 = 10;
  if (base === 0 && text[at] === '0') {
    const hex =
      (text[at + 1] === 'x' || text[at + 1] === 'X') && /[0-9a-fA-F]/.test(text[at + 2] ?? '');
    radix = hex ? 16 : 8;
    if (hex) at += 2;
  }
  const digits = DIGITS[radix].exec(text.slice(at))![0];
  if (digits.length === 0) return { value: 0n, end: 0 };
  const prefix = radix === 16 ? '0x' : radix === 8 ? '0o' : '';
  let value = BigInt(`${prefix}${digits}`);
  if (sign[1] === '-') value = -value;
  if (value > LONG_MAX) value = LONG_MAX;
  if (value < LONG_MIN) value = LONG_MIN;
  return { value, end: at + digits.length };
}

/** C's `atoi` into an `int`: `007` is 7, ` +12x` is 12, text without digits 0, `4294967297` 1. */
export function atoi(text: string): number {
  return Number(BigInt.asIntN(32, strtol(text, 10).value));
}

/** {@link atoi} stored in an `unsigned int` (domids, offsets): `-1` is 4294967295. */
export function atou(text: string): number {
  return atoi(text) >>> 0;
}

/**
 * The whole of `text` read as `strtol(text, &end, 0)` with nothing left over, kept in 32 bits as
 * a signed value (how C prints it); undefined when nothing or not everything was read.
 */
export function strtolWhole(text: string): number | undefined {
  const { value, end } = strtol(text, 0);
  return end === 0 || end !== text.length ? undefined : Number(BigInt.asIntN(32, value));
}
