import type { XenstoreClient } from '../../xenstore/client.ts';
import { XenstoreError } from '../../xenstore/errors.ts';
import type { Command } from '../command.ts';
import { type CliIo, Diagnostics, USAGE_ERROR, wantsJson } from '../io.ts';
import { sanitiseValue } from '../sanitise.ts';
import { strerror } from '../strerror.ts';
import { connectErrorCode, openTarget, type Target } from '../target.ts';
import { parseToolArgs } from '../tool-args.ts';

const options = {
  watch: { type: 'boolean', short: 'w' },
  color: { type: 'boolean' },
  'no-color': { type: 'boolean' },
  count: { type: 'string', short: 'n' },
  mock: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = `Usage: xenwire tree [PATH] [--watch] [--count N] [--color | --no-color] [--mock]

Prints the subtree at PATH (default /) with its values. With --watch it keeps watching PATH and
prints the subtree again whenever it changes (on a terminal: redrawn in place, changed nodes
highlighted), stopping after N redraws with --count, else when interrupted. Colour is used when
stdout is a terminal, or with --color.
`;

/** One node of a snapshot, in depth-first order. */
interface SnapshotNode {
  readonly path: string;
  readonly name: string;
  readonly depth: number;
  readonly value: string;
  /** Whether this node is the last of its siblings (for the tree lines). */
  readonly last: boolean;
}

const style = {
  name: (text: string) => `\x1b[1;34m${text}\x1b[0m`,
  value: (text: string) => `\x1b[32m${text}\x1b[0m`,
  changed: (text: string) => `\x1b[1;33m${text}\x1b[0m`,
  dim: (text: string) => `\x1b[2m${text}\x1b[0m`,
};

/** The subtree at `root`, read in one transaction so that it is a consistent snapshot. */
async function snapshot(client: XenstoreClient, root: string): Promise<SnapshotNode[]> {
  const tx = await client.transactionStart();
  try {
    const nodes: SnapshotNode[] = [];
    const rootValue = await tx.read(root);
    nodes.push({ path: root, name: root, depth: 0, value: sanitiseValue(rootValue), last: true });
    const walk = async (path: string, depth: number): Promise<void> => {
      const children = await tx.directory(path).catch((): string[] => []);
      for (const [index, child] of children.entries()) {
        const childPath = `${path === '/' ? '' : path}/${child}`;
        // A node removed since the listing is left out.
        const value = await tx.read(childPath).catch(() => undefined);
        if (value === undefined) continue;
        nodes.push({
          path: childPath,
          name: child,
          depth,
          value: sanitiseValue(value),
          last: index === children.length - 1,
        });
        await walk(childPath, depth + 1);
      }
    };
    await walk(root, 1);
    return nodes;
  } finally {
    await tx.abort().catch(() => undefined);
  }
}

/** Renders a snapshot; with colour, nodes new or changed since `previous` are highlighted. */
function render(
  nodes: readonly SnapshotNode[],
  color: boolean,
  previous: ReadonlyMap<string, string> | undefined,
): string {
  const lines: string[] = [];
  // Whether the ancestor at each depth was the last of its siblings: no more vertical line.
  const lastAt: boolean[] = [];
  for (const node of nodes) {
    lastAt[node.depth] = node.last;
    let prefix = '';
    for (let depth = 1; depth < node.depth; depth++) prefix += lastAt[depth] ? '    ' : '│   ';
    if (node.depth > 0) prefix += node.last ? '└── ' : '├── ';
    const value = node.value === '' ? '' : ` = "${node.value}"`;
    if (!color) {
      lines.push(`${prefix}${node.name}${value}`);
      continue;
    }
    const changed = previous !== undefined && previous.get(node.path) !== node.value;
    const name = changed ? style.changed(node.name) : style.name(node.name);
    const shownValue = value === '' ? '' : ` ${style.dim('=')} ${style.value(`"${node.value}"`)}`;
    lines.push(`${prefix && style.dim(prefix)}${name}${shownValue}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `xenwire tree`: a subtree, optionally kept up to date as watches fire. */
async function runTree(args: readonly string[], io: CliIo): Promise<number> {
  const diag = new Diagnostics(io, 'xenwire tree', wantsJson(args));
  const { values, positionals } = parseToolArgs(args, options, usage, io, diag, true);
  if (positionals.length > 1) return diag.errx(`at most one PATH\n${usage}`, USAGE_ERROR, 2);
  const root = positionals[0] ?? '/';
  const tty = Boolean(io.stdout.isTTY);
  const color = values['no-color'] ? false : (values.color ?? tty);
  const limit = values.count === undefined ? Number.POSITIVE_INFINITY : Number(values.count);
  if (!(limit >= 0))
    return diag.errx(`--count takes a number, not ${values.count}`, USAGE_ERROR, 2);

  let target: Target;
  try {
    target = await openTarget({ mock: values.mock, env: io.env });
  } catch (error) {
    const code = connectErrorCode(error);
    return diag.errx(`cannot connect to xenstored: ${strerror(code)}`, { code });
  }
  const { client } = target;
  try {
    const watch = values.watch ? await client.watch(root, { signal: io.signal }) : undefined;
    const events = watch?.[Symbol.asyncIterator]();
    // xenstored fires every new watch once; that event is not a change.
    await events?.next();
    const show = async (previous?: ReadonlyMap<string, string>, changedPath?: string) => {
      let nodes: SnapshotNode[] = [];
      let body: string;
      try {
        nodes = await snapshot(client, root);
        body = render(nodes, color, previous);
      } catch (error) {
        if (!(error instanceof XenstoreError)) throw error;
        body = `${root}: ${strerror(error.code)}\n`;
      }
      if (tty && previous) io.stdout.write('\x1b[H\x1b[2J');
      if (changedPath !== undefined && !tty) io.stdout.write(`--- changed: ${changedPath}\n`);
      io.stdout.write(body);
      return new Map(nodes.map((node) => [node.path, node.value]));
    };
    let shown = await show();
    if (!watch || !events) return shown.size > 0 ? 0 : 1;
    for (let redraws = 0; redraws < limit; redraws++) {
      const event = await events.next().catch(() => undefined);
      if (!event || event.done)
        return io.signal?.aborted
          ? 0
          : diag.errx('connection to xenstored lost', { code: 'ECONNRESET' });
      // One redraw for a burst of changes: take whatever else has already arrived.
      while (watch.queued > 0) await events.next();
      shown = await show(shown, event.value.path);
    }
    return 0;
  } finally {
    await target.close();
  }
}

export const command: Command = { run: runTree, interruptible: true };
