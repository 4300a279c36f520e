import { unsanitiseValue } from '../sanitise.ts';
import type { Perform } from '../xenstore-tool.ts';

/** `write [-R] key value...`: values are unescaped unless raw. */
export const performWrite: Perform = async ({ ops, operands, flags, diag }) => {
  for (let i = 0; i + 1 < operands.length; i += 2) {
    const path = operands[i]!;
    const spec = operands[i + 1]!;
    const value = flags.raw ? Buffer.from(spec, 'utf8') : unsanitiseValue(spec);
    try {
      await ops.write(path, value);
    } catch {
      diag.warnx(`could not write path ${path}`);
      return 1;
    }
  }
  return 0;
};
