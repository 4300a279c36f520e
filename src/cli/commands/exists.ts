import type { Perform } from '../xenstore-tool.ts';

/** `exists key...`: status 0 when every key can be read, 1 (silently) otherwise. */
export const performExists: Perform = async ({ session, txId, operands }) => {
  for (const path of operands) {
    try {
      await session.request({ op: 'READ', path }, txId);
    } catch {
      return 1;
    }
  }
  return 0;
};
