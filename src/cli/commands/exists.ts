import type { Perform } from '../xenstore-tool.ts';

/** `exists key...`: status 0 when every key can be read, 1 (silently) otherwise. */
export const performExists: Perform = async ({ ops, operands }) => {
  for (const path of operands) {
    try {
      // A read, as the C tool does: a node it may not read does not exist for it.
      await ops.read(path);
    } catch {
      return 1;
    }
  }
  return 0;
};
