/**
 * How C xenstored 4.17 reads a request payload, for classifying generated steps independently of
 * the server under test: the nul-terminated strings (`get_strings`, which ignores bytes after the
 * last nul).
 */

/** The payload's nul-terminated strings; anything after the last nul is not a string. */
export function cStrings(payload: string): string[] {
  const last = payload.lastIndexOf('\0');
  return last < 0 ? [] : payload.slice(0, last).split('\0');
}
