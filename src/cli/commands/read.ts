import { jsonLine, jsonValue } from '../json.ts';
import { sanitiseValue } from '../sanitise.ts';
import { errorCode } from '../target.ts';
import { dropInCommand } from '../xenstore-tool.ts';

/** `read [-p] [-R] key...`: each value on its own line, escaped unless raw. */
export const command = dropInCommand({
  mode: 'read',
  usage: '[-h] [-p] [-s] [-R] key [...]',
  description: `Prints the value of each key on a line of its own, with \\t, \\n, \\\\ and other bytes
escaped as \\ooo or \\xhh. Several keys are read in one transaction. A key that cannot be read
ends the command with status 1, after the values of the keys before it.
  -p, --prefix  print "key: value"
  -R, --raw     print the values as they are, without escaping or newline
  --json        one JSON line per key: {"path", "value"}, or {"path", "base64"} for bytes
                that are not UTF-8`,
  letters: 'pR',
  json: true,
  transaction: (n) => n > 1,
  perform: async ({ ops, operands, flags, diag, output }) => {
    for (const path of operands) {
      let value: Uint8Array;
      try {
        value = await ops.read(path);
      } catch (error) {
        diag.warnx(`couldn't read path ${path}`, { code: errorCode(error), path });
        return 1;
      }
      if (flags.json) {
        output.add(jsonLine({ path, ...jsonValue(value) }));
        continue;
      }
      if (flags.prefix) output.add(`${path}: `);
      output.add(flags.raw ? value : `${sanitiseValue(value)}\n`);
    }
    return 0;
  },
});
