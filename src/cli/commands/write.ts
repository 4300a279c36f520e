import { unsanitiseValue } from '../sanitise.ts';
import type { Perform } from '../xenstore-tool.ts';

/** `write [-R] key value...`: values are unescaped unless raw. */
export const performWrite: Perform = async ({ session, txId, operands, flags, diag }) => {
  for (let i = 0; i + 1 < operands.length; i += 2) {
    const path = operands[i]!;
    const spec = operands[i + 1]!;
    const value = flags.raw ? Buffer.from(spec, 'utf8') : unsanitiseValue(spec);
    try {
      await session.request({ op: 'WRITE', path, value }, txId);
    } catch {
      diag.warnx(`could not write path ${path}`);
      return 1;
    }
  }
  return 0;
};
