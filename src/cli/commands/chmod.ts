import type { Access, Permission } from '../../xenstore/permissions.ts';
import { atoi } from '../getopt.ts';
import { USAGE_ERROR } from '../io.ts';
import { strerror } from '../strerror.ts';
import { errorCode } from '../target.ts';
import { dropInCommand, type ToolContext } from '../xenstore-tool.ts';

// The C tool composes child paths in a 256-byte buffer, silently cutting longer ones.
const MAX_PATH_LEN = 256;

/** One `<letter><domid>` argument, read as the C tool does (`atoi` for the domid). */
function parseMode(context: ToolContext, text: string): Permission {
  const letter = text[0] ?? '\0';
  if (!['n', 'r', 'w', 'b'].includes(letter)) {
    context.diag.errx(`Invalid permission specification: '${letter}'`, USAGE_ERROR);
  }
  return { access: letter as Access, domid: atoi(text.slice(1)) >>> 0 };
}

async function chmodTree(
  context: ToolContext,
  path: string,
  perms: readonly Permission[],
  upto: boolean,
  recurse: boolean,
): Promise<void> {
  const { ops, diag } = context;
  if (path === '') return;
  try {
    await ops.setPermissions(path, perms);
  } catch (error) {
    const code = errorCode(error);
    diag.errx(`Error occurred setting permissions on '${path}': ${strerror(code)}`, { code, path });
  }
  if (upto) {
    const slash = path.lastIndexOf('/');
    if (slash < 0)
      diag.errx(`Unable to locate path separator '/' in '${path}'`, { code: 'EINVAL', path });
    await chmodTree(context, path.slice(0, slash), perms, true, false);
  }
  if (recurse) {
    const children = await ops.directory(path).catch((): string[] => []);
    for (const child of children) {
      const childPath = `${path}/${child}`.slice(0, MAX_PATH_LEN - 1);
      await chmodTree(context, childPath, perms, false, true);
    }
  }
}

/** `chmod [-u] [-r] key mode...`: set the permission list, optionally on parents and descendants. */
export const command = dropInCommand({
  mode: 'chmod',
  usage: '[-h] [-u] [-r] [-s] key <mode [modes...]>',
  description: `Sets the permission list of key, all in one transaction. Each mode is a letter and a domid:
n (none), r (read), w (write) or b (both); the first names the owner and what every other
domain may do, e.g. "n0 r5": owned by domain 0, readable by domain 5.
  -u, --upto     also set every parent of key
  -r, --recurse  also set every node below key`,
  letters: 'ur',
  json: false,
  transaction: () => true,
  perform: async (context) => {
    const [path, ...modes] = context.operands;
    const perms = modes.map((mode) => parseMode(context, mode));
    await chmodTree(context, path!, perms, context.flags.upto, context.flags.recurse);
    return 0;
  },
});
