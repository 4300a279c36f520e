import { jsonLine } from '../json.ts';
import { dropInCommand } from '../xenstore-tool.ts';

/** `exists key...`: status 0 when every key can be read, 1 (silently) otherwise. */
export const command = dropInCommand({
  mode: 'exists',
  usage: '[-h] [-p] [-s] key [...]',
  description: `Exit status 0 when every key exists, 1 (and nothing printed) when one does not. A key this
connection may not read does not exist for it, as for the C tool.
  --json        one JSON line per key, {"path", "exists"}, every key checked`,
  letters: '',
  json: true,
  transaction: () => true,
  perform: async ({ ops, operands, flags, output }) => {
    let status = 0;
    for (const path of operands) {
      // A read, as the C tool does.
      const exists = await ops.read(path).then(
        () => true,
        () => false,
      );
      if (flags.json) output.add(jsonLine({ path, exists }));
      if (!exists) {
        status = 1;
        if (!flags.json) break;
      }
    }
    return status;
  },
});
