import { errorCode } from '../target.ts';
import { dropInCommand, type ToolContext } from '../xenstore-tool.ts';

async function remove({ ops, diag }: ToolContext, path: string): Promise<boolean> {
  try {
    await ops.rm(path);
    return true;
  } catch (error) {
    diag.warnx(`could not remove path ${path}`, { code: errorCode(error), path });
    return false;
  }
}

/** True when `path` has an empty value and no children, i.e. `rm -t` may remove it too. */
async function isEmptyDirectory({ ops }: ToolContext, path: string): Promise<boolean> {
  try {
    const value = await ops.read(path);
    if (value.length !== 0) return false;
    return (await ops.directory(path)).length === 0;
  } catch {
    return false;
  }
}

/**
 * `rm [-t] key...`. With `-t`, parents left with no value and no children are removed as well,
 * all the way up, as the C tool does (it asks about the parent `""` of a top-level key, which
 * the server refuses, and that ends the climb).
 */
export const command = dropInCommand({
  mode: 'rm',
  usage: '[-h] [-s] [-t] key [...]',
  description: `Removes each key with everything below it, all in one transaction.
  -t, --tidy    also remove parents left with an empty value and no children`,
  letters: 't',
  json: false,
  transaction: () => true,
  perform: async (context) => {
    for (const key of context.operands) {
      let path = key;
      for (;;) {
        if (!(await remove(context, path))) return 1;
        if (!context.flags.tidy) break;
        const slash = path.lastIndexOf('/');
        if (slash < 0) break;
        path = path.slice(0, slash);
        if (!(await isEmptyDirectory(context, path))) break;
      }
    }
    return 0;
  },
});
