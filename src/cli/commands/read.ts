import { jsonLine, jsonValue } from '../json.ts';
import { sanitiseValue } from '../sanitise.ts';
import type { Perform } from '../xenstore-tool.ts';

/** `read [-p] [-R] key...`: each value on its own line, escaped unless raw. */
export const performRead: Perform = async ({ ops, operands, flags, diag, output }) => {
  for (const path of operands) {
    let value: Uint8Array;
    try {
      value = await ops.read(path);
    } catch {
      diag.warnx(`couldn't read path ${path}`);
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
};
