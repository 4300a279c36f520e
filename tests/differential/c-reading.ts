/**
 * How C xenstored 4.17 reads a request payload, for classifying generated steps independently of
 * the server under test: the nul-terminated strings (`get_strings`, which ignores bytes after the
 * last nul) and numbers read with glibc's `atoi` into a 32-bit `int`.
 */

/** The payload's nul-terminated strings; anything after the last nul is not a string. */
export function cStrings(payload: string): string[] {
  const last = payload.lastIndexOf('\0');
  return last < 0 ? [] : payload.slice(0, last).split('\0');
}

const LONG_MAX = 2n ** 63n - 1n;

/**
 * glibc's `atoi`: `(int) strtol(text, NULL, 10)`, so leading blanks and a sign are skipped,
 * reading stops at the first non-digit, overflow clamps to a 64-bit long, and the result keeps
 * its low 32 bits, as a signed value.
 */
export function cAtoi(text: string): number {
  const match = /^[\t\n\v\f\r ]*([+-]?)(\d+)/.exec(text);
  if (!match) return 0;
  let value = BigInt(match[2]!);
  if (match[1] === '-') value = -value;
  if (value > LONG_MAX) value = LONG_MAX;
  if (value < -LONG_MAX - 1n) value = -LONG_MAX - 1n;
  return Number(BigInt.asIntN(32, value));
}
