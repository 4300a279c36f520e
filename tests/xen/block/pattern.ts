/**
 * The bytes both sides of the real-Xen block parts agree on without talking: a block's expected
 * contents from its number, for the guest to write and Dom0 to check in the image.
 */

/** Bytes of one record of the kill test: 16 pages, written by the guest in one go. */
export const RECORD_BYTES = 64 * 1024;

/** Record `index` of stream `seed`: pseudo-random bytes, a different run for every page. */
export function record(seed: number, index: number, bytes = RECORD_BYTES): Uint8Array {
  const words = new Uint32Array(Math.ceil(bytes / 4));
  let x = (seed * 0x9e3779b1 + index * 0x85ebca6b + 1) >>> 0;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, bytes);
}
