import { Buffer } from 'node:buffer';

/**
 * The payload grammar shared by requests and replies: strings each followed by a nul byte, with
 * WRITE and READ carrying raw bytes that may themselves hold nuls.
 */

const NUL = 0;
const encoder = new TextEncoder();

/**
 * Text as bytes. Xenstore strings are ASCII in practice; UTF-8 keeps any other text intact.
 * @category Codec
 */
export function toBytes(value: string | Uint8Array): Uint8Array {
  return typeof value === 'string' ? encoder.encode(value) : value;
}

/** The same bytes as a Buffer, without copying (received payloads already are Buffers). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return bytes instanceof Buffer
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/**
 * Bytes as text (latin1, so that every byte maps to one character and nothing is lost).
 * @category Codec
 */
export function toText(bytes: Uint8Array): string {
  return asBuffer(bytes).toString('latin1');
}

/** {@link toText} of `bytes` from `start` up to `end`, without making a view of them first. */
export function textBetween(bytes: Uint8Array, start: number, end: number): string {
  return asBuffer(bytes).toString('latin1', start, end);
}

/**
 * Each item followed by a nul: `a\0b\0`, after `headroom` zero bytes (room for a message header,
 * so that a whole frame is one buffer).
 * @category Codec
 */
export function joinStrings(items: readonly (string | Uint8Array)[], headroom = 0): Buffer {
  const parts: Uint8Array[] = [];
  let size = headroom;
  for (const item of items) {
    const bytes = toBytes(item);
    parts.push(bytes);
    size += bytes.length + 1;
  }
  const out = Buffer.alloc(size);
  let at = headroom;
  for (const part of parts) {
    out.set(part, at);
    at += part.length + 1;
  }
  return out;
}

/**
 * Each item followed by a nul, for text that holds bytes (decoded with {@link toText}): every
 * character becomes the one byte it stands for, so what a peer sent goes back unchanged.
 */
export function joinByteStrings(items: readonly string[]): Buffer {
  let text = '';
  for (const item of items) text += `${item}\0`;
  return Buffer.from(text, 'latin1');
}

/**
 * Splits a payload of nul-terminated strings. Returns `undefined` when the payload does not end
 * with a nul (a trailing unterminated part is a grammar error everywhere it can occur).
 * @category Codec
 */
export function splitStrings(payload: Uint8Array): string[] | undefined {
  if (payload.length === 0) return [];
  if (payload[payload.length - 1] !== NUL) return undefined;
  // One decode and one native split beat walking the bytes in JavaScript by an order of magnitude.
  return toText(payload.subarray(0, payload.length - 1)).split('\0');
}

/**
 * The nul-terminated strings of a request payload, as C xenstored reads them (`get_strings`):
 * bytes after the last nul belong to no string and are ignored.
 */
export function requestStrings(payload: Uint8Array): string[] {
  const last = payload.lastIndexOf(NUL);
  return last < 0 ? [] : toText(payload.subarray(0, last)).split('\0');
}

/** Index of the first nul at or after `from`, or -1. */
export function indexOfNul(payload: Uint8Array, from = 0): number {
  return payload.indexOf(NUL, from);
}

/**
 * The `OK\0` that acknowledges every request without a reply value.
 * @category Codec
 */
export const OK_PAYLOAD: Uint8Array = Buffer.from('OK\0', 'latin1');
