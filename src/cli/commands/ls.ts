import { XenstoreError } from '../../xenstore/errors.ts';
import { formatPermission, type Permission } from '../../xenstore/permissions.ts';
import { jsonLine, jsonValue } from '../json.ts';
import { Progress } from '../progress.ts';
import { sanitiseValue } from '../sanitise.ts';
import { strerror } from '../strerror.ts';
import { errorCode } from '../target.ts';
import { dropInCommand, type ToolContext } from '../xenstore-tool.ts';

// The C tool's layout constants: the width of ` = "..."`, and the longest path it composes
// (XENSTORE_ABS_PATH_MAX + 1024), beyond which it does not even try to read the value.
const TAG_LEN = 8;
const STRING_MAX = 3072 + 1024;
// Flushing this often keeps memory flat while listing huge trees.
const FLUSH_BYTES = 64 * 1024;

interface Layout {
  /** Line width: the terminal's minus 2, 80 when stdout is not a terminal, unbounded with -f. */
  readonly maxWidth: number;
  /** Where permission columns start (-p), after a dotted leader. */
  readonly desiredWidth: number;
}

/** C's `printf("%.*s")`: a negative precision means no limit. */
function clip(text: string, precision: number): string {
  return precision < 0 ? text : text.slice(0, precision);
}

class LsWriter {
  #chunks: string[] = [];
  #size = 0;

  constructor(private readonly context: ToolContext) {}

  add(text: string): void {
    this.#chunks.push(text);
    this.#size += text.length;
    if (this.#size >= FLUSH_BYTES) this.flush();
  }

  flush(): void {
    if (this.#size > 0 || this.#chunks.length > 0)
      this.context.io.stdout.write(this.#chunks.join(''));
    this.#chunks = [];
    this.#size = 0;
  }
}

/**
 * `ls [-f] [-p] [path...]`: the subtree, depth first, one node per line; values escaped and cut to
 * the terminal width; `-p` adds permissions; `--json` prints one JSON line per node instead.
 * A node counter goes to stderr when it is a terminal and stdout is not.
 */
export const command = dropInCommand({
  mode: 'ls',
  usage: '[-h] [-f] [-p] [-s] [path]',
  description: `Prints the subtree at each path (default /), depth first, one node per line, indented, with
its value escaped and cut to the terminal's width (80 columns when not a terminal).
  -f, --flat    full paths, values not cut
  -p, --prefix  permissions after each value
  --json        one JSON line per node: {"path", "value" or "base64", "perms" with -p}`,
  letters: 'fp',
  json: true,
  transaction: () => false,
  perform: async (context) => {
    const { io, flags } = context;
    const layout: Layout = flags.flat
      ? { maxWidth: Math.floor(0x7fffffff / 2), desiredWidth: 0 }
      : {
          maxWidth: io.stdout.isTTY && io.stdout.columns ? io.stdout.columns - 2 : 80,
          desiredWidth: 60,
        };
    const writer = new LsWriter(context);
    const progress = new Progress(io, 'nodes');
    const roots = context.operands.length > 0 ? context.operands : ['/'];
    try {
      for (const root of roots) await listTree(context, layout, writer, progress, root, 0);
    } finally {
      writer.flush();
      progress.done();
    }
    return 0;
  },
});

/** What `ls` shows of one node. */
interface NodeInfo {
  readonly name: string;
  readonly path: string;
  /** Undefined when the node cannot be read. */
  readonly value: Uint8Array | undefined;
  readonly perms: Permission[] | undefined;
  readonly permsError: unknown;
}

async function fetchNode(context: ToolContext, parent: string, name: string): Promise<NodeInfo> {
  const { ops, flags } = context;
  const path = `${parent}${parent.endsWith('/') ? '' : '/'}${name}`;
  const [value, perms] = await Promise.all([
    path.length < STRING_MAX ? ops.read(path).catch(() => undefined) : undefined,
    flags.prefix ? ops.getPermissions(path).catch((error: unknown) => error) : undefined,
  ]);
  return Array.isArray(perms)
    ? { name, path, value, perms, permsError: undefined }
    : { name, path, value, perms: undefined, permsError: perms };
}

// Siblings whose values are asked for at once: one round trip per batch, not per node, while
// the output keeps the C tool's order.
const FETCH_BATCH = 64;

async function listTree(
  context: ToolContext,
  layout: Layout,
  writer: LsWriter,
  progress: Progress,
  path: string,
  depth: number,
): Promise<void> {
  const { ops, flags, diag } = context;
  let children: string[];
  try {
    children = await ops.directory(path);
  } catch (error) {
    // A node that disappears while the tree is walked is skipped, as in C.
    if (depth > 0 && error instanceof XenstoreError && error.code === 'ENOENT') return;
    writer.flush();
    const code = errorCode(error);
    return diag.errx(`xs_directory (${path}): ${strerror(code)}`, { code, path });
  }
  for (let start = 0; start < children.length; start += FETCH_BATCH) {
    const batch = children.slice(start, start + FETCH_BATCH);
    const nodes = await Promise.all(batch.map((child) => fetchNode(context, path, child)));
    for (const node of nodes) {
      progress.tick();
      if (flags.json) {
        const record = { path: node.path, ...(node.value ? jsonValue(node.value) : {}) };
        const perms = node.perms?.map(formatPermission);
        writer.add(jsonLine(flags.prefix ? { ...record, perms } : record));
      } else {
        writer.add(formatLine(layout, flags, node.name, node.path, depth, node.value));
        if (flags.prefix) {
          if (node.perms) {
            writer.add(`  (${node.perms.map(formatPermission).join(',')})`);
          } else {
            writer.flush();
            const code = errorCode(node.permsError);
            diag.warnx(`\ncould not access permissions for ${node.name}: ${strerror(code)}`, {
              code,
              path: node.path,
            });
          }
        }
        writer.add('\n');
      }
      await listTree(context, layout, writer, progress, node.path, depth + 1);
    }
  }
}

/** One node's line without permissions and newline, as `do_ls` prints it. */
function formatLine(
  layout: Layout,
  flags: { readonly flat: boolean; readonly prefix: boolean },
  name: string,
  path: string,
  depth: number,
  value: Uint8Array | undefined,
): string {
  let line: string;
  let width = 0;
  if (flags.flat) {
    // The C tool does not count the full path towards the line width.
    line = path;
  } else {
    line = ' '.repeat(depth);
    width = depth;
    const shown = clip(name, layout.maxWidth - TAG_LEN - width);
    line += shown;
    width += shown.length;
  }
  if (value === undefined) return `${line}:\n`;
  const text = sanitiseValue(value);
  if (layout.maxWidth < width + value.length + TAG_LEN) {
    return `${line} = "${clip(text, layout.maxWidth - TAG_LEN - width)}\\..."`;
  }
  const shown = ` = "${text}"`;
  line += shown;
  width += shown.length;
  if (flags.prefix) {
    line += ' ';
    for (width++; width < Math.min(layout.desiredWidth, layout.maxWidth); width++) {
      line += width & 1 ? '.' : ' ';
    }
  }
  return line;
}
