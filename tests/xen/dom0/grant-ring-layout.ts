import { defineRing } from '../../../src/ring/sring.ts';

/**
 * Order of the flex ring (`ring.h`, as pvcalls and 9pfs use it) that grants.dom0.ts lays over
 * real grant pages: one interface page, then `2^order` data pages, 64 KiB each way.
 */
export const FLEX_RING_ORDER = 5;

/** The byte at stream offset `i`: cheap to compute and to check, and not periodic in the ring. */
export function patternByte(i: number): number {
  return (i * 31 + (i >>> 13)) & 0xff;
}

/**
 * The request/response ring of grants.dom0.ts: a request is `[id, operand]`, its response
 * `[id, answer(operand)]`, u32 each. 8-byte slots: 256 of them in one page.
 */
export const ECHO_RING = defineRing({ name: 'grant echo', requestSize: 8, responseSize: 8 });

/** Words per entry of {@link ECHO_RING}. */
export const ECHO_ENTRY_WORDS = 2;

/** The operand that request `id` carries. */
export function operandOf(id: number): number {
  return Math.imul(id, 0x9e3779b1) >>> 0;
}

/** What the backend answers to `operand`: a right answer shows it read the request it answers. */
export function answerTo(operand: number): number {
  return (Math.imul(operand ^ (operand >>> 16), 0x85ebca6b) ^ 0x5bd1e995) >>> 0;
}
