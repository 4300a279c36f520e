import { unsanitiseValue } from '../sanitise.ts';
import { errorCode } from '../target.ts';
import { dropInCommand } from '../xenstore-tool.ts';

/** `write [-R] key value...`: values are unescaped unless raw. */
export const command = dropInCommand({
  mode: 'write',
  usage: '[-h] [-s] [-R] key value [...]',
  description: `Writes each value to its key, creating the key (and its parents) when missing. Escapes
in values (\\t, \\n, \\\\, \\ooo, \\xhh) are turned into the bytes they stand for. Several pairs
are written in one transaction.
  -R, --raw     write the values as they are, without unescaping`,
  letters: 'R',
  json: false,
  transaction: (n) => n > 2,
  perform: async ({ ops, operands, flags, diag }) => {
    for (let i = 0; i + 1 < operands.length; i += 2) {
      const path = operands[i]!;
      const spec = operands[i + 1]!;
      const value = flags.raw ? Buffer.from(spec, 'utf8') : unsanitiseValue(spec);
      try {
        await ops.write(path, value);
      } catch (error) {
        diag.warnx(`could not write path ${path}`, { code: errorCode(error), path });
        return 1;
      }
    }
    return 0;
  },
});
