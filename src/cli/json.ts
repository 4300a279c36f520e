/** `--json` helpers shared by the commands that offer it. */

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A node value for JSON: `{ value }` when it is UTF-8 text, else `{ base64 }`, so binary values
 * survive the trip exactly.
 */
export function jsonValue(bytes: Uint8Array): { value: string } | { base64: string } {
  try {
    return { value: utf8.decode(bytes) };
  } catch {
    return { base64: Buffer.from(bytes).toString('base64') };
  }
}

/** One JSON line. */
export function jsonLine(record: unknown): string {
  return `${JSON.stringify(record)}\n`;
}
