import { jsonLine } from '../json.ts';
import type { Perform } from '../xenstore-tool.ts';

/** `list [-p] key...`: the children of each key, one per line. */
export const performList: Perform = async ({ ops, operands, flags, diag, output }) => {
  for (const path of operands) {
    let children: string[];
    try {
      children = await ops.directory(path);
    } catch {
      diag.warnx(`could not list path ${path}`);
      return 1;
    }
    if (flags.json) {
      output.add(jsonLine({ path, children }));
      continue;
    }
    // 4.17 prefixes with the key and a slash even for `/`, printing `//tool`.
    for (const child of children) output.add(flags.prefix ? `${path}/${child}\n` : `${child}\n`);
  }
  return 0;
};
