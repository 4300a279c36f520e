import { jsonLine } from '../json.ts';
import { errorCode } from '../target.ts';
import { dropInCommand } from '../xenstore-tool.ts';

/** `list [-p] key...`: the children of each key, one per line. */
export const command = dropInCommand({
  mode: 'list',
  usage: '[-h] [-p] [-s] key [...]',
  description: `Prints the names of the children of each key, one per line, all read in one transaction.
  -p, --prefix  print each child's full path
  --json        one JSON line per key: {"path", "children"}`,
  letters: 'p',
  json: true,
  transaction: () => true,
  perform: async ({ ops, operands, flags, diag, output }) => {
    for (const path of operands) {
      let children: string[];
      try {
        children = await ops.directory(path);
      } catch (error) {
        diag.warnx(`could not list path ${path}`, { code: errorCode(error), path });
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
  },
});
