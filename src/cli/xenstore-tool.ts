import type { XenstoreClient } from '../xenstore/client.ts';
import { XenstoreError } from '../xenstore/index.ts';
import { performChmod } from './commands/chmod.ts';
import { performExists } from './commands/exists.ts';
import { performList } from './commands/list.ts';
import { performLs } from './commands/ls.ts';
import { performRead } from './commands/read.ts';
import { performRm } from './commands/rm.ts';
import { performWatch } from './commands/watch.ts';
import { performWrite } from './commands/write.ts';
import { atoi, getoptLong, type LongOption } from './getopt.ts';
import { type CliIo, Diagnostics } from './io.ts';
import { OutputBuffer } from './output-buffer.ts';
import { strerror } from './strerror.ts';
import { connectErrorCode, openTarget, type Target } from './target.ts';

/**
 * The drop-in subcommands, driven as Xen 4.17's multi-call `xenstore` program drives its modes:
 * the same options (each valid only in some modes), usage messages, transaction around the work
 * (retried on EAGAIN), output held back until the end, and exit statuses.
 */

/** The xenstore tool modes. */
export type ToolMode = 'read' | 'write' | 'rm' | 'exists' | 'list' | 'ls' | 'chmod' | 'watch';

/** Option settings of one run. */
export interface ToolFlags {
  /** `-p`: prefix output with the path (read, list), or show permissions (ls). */
  readonly prefix: boolean;
  /** `-t`: rm also removes emptied parents. */
  readonly tidy: boolean;
  /** `-u`: chmod also sets every parent. */
  readonly upto: boolean;
  /** `-r`: chmod also sets every descendant. */
  readonly recurse: boolean;
  /** `-R`: read and write values as they are, without (un)escaping. */
  readonly raw: boolean;
  /** `-f`: ls prints full paths, unabridged. */
  readonly flat: boolean;
  /** `-n`: watch stops after this many events; -1 never. */
  readonly watchCount: number;
  /** `--json`: JSON lines instead of the C tools' text. */
  readonly json: boolean;
}

/** The node operations of the client, or of a transaction: the same calls either way. */
export type NodeOps = Pick<
  XenstoreClient,
  'read' | 'write' | 'rm' | 'directory' | 'getPermissions' | 'setPermissions'
>;

/** What a mode's work sees. */
export interface ToolContext {
  readonly client: XenstoreClient;
  /** Node operations in the mode's transaction, or the client's when it runs in none. */
  readonly ops: NodeOps;
  readonly operands: readonly string[];
  readonly flags: ToolFlags;
  readonly io: CliIo;
  readonly diag: Diagnostics;
  /** Held-back output, printed once the work (and its transaction) is done. */
  readonly output: OutputBuffer;
}

/** A mode's work: returns the exit status (0 or 1); may end the command through `diag.errx`. */
export type Perform = (context: ToolContext) => Promise<number>;

interface ModeSpec {
  readonly usage: string;
  readonly perform: Perform;
  /** Whether the work runs in a transaction, given the operand count. */
  readonly transaction: (operands: number) => boolean;
}

const modes: Readonly<Record<ToolMode, ModeSpec>> = {
  read: {
    usage: '[-h] [-p] [-s] [-R] key [...]',
    perform: performRead,
    transaction: (n) => n > 1,
  },
  write: {
    usage: '[-h] [-s] [-R] key value [...]',
    perform: performWrite,
    transaction: (n) => n > 2,
  },
  rm: { usage: '[-h] [-s] [-t] key [...]', perform: performRm, transaction: () => true },
  exists: { usage: '[-h] [-p] [-s] key [...]', perform: performExists, transaction: () => true },
  list: { usage: '[-h] [-p] [-s] key [...]', perform: performList, transaction: () => true },
  ls: { usage: '[-h] [-f] [-p] [-s] [path]', perform: performLs, transaction: () => false },
  chmod: {
    usage: '[-h] [-u] [-r] [-s] key <mode [modes...]>',
    perform: performChmod,
    transaction: () => true,
  },
  watch: { usage: '[-h] [-n NR] key', perform: performWatch, transaction: () => false },
};

/** True for the names of the drop-in modes. */
export function isToolMode(name: string): name is ToolMode {
  return Object.hasOwn(modes, name);
}

// Letters the modes accept; xenwire's own long options use names no C option starts with.
const JSON_OPTION = 'json';
const MOCK_OPTION = 'mock';
const longOptions: readonly LongOption[] = [
  { name: 'help', letter: 'h', hasArg: false },
  { name: 'flat', letter: 'f', hasArg: false },
  { name: 'socket', letter: 's', hasArg: false },
  { name: 'prefix', letter: 'p', hasArg: false },
  { name: 'tidy', letter: 't', hasArg: false },
  { name: 'upto', letter: 'u', hasArg: false },
  { name: 'recurse', letter: 'r', hasArg: false },
  { name: 'number', letter: 'n', hasArg: true },
  { name: 'raw', letter: 'R', hasArg: false },
  { name: JSON_OPTION, letter: JSON_OPTION, hasArg: false },
  { name: MOCK_OPTION, letter: MOCK_OPTION, hasArg: false },
];
const validIn: Readonly<Record<string, readonly ToolMode[]>> = {
  f: ['ls'],
  p: ['read', 'list', 'ls'],
  t: ['rm'],
  u: ['chmod'],
  r: ['chmod'],
  n: ['watch'],
  R: ['read', 'write'],
  [JSON_OPTION]: ['read', 'list', 'ls', 'watch'],
};

/** How the program was invoked: `xenwire read …`, or through a link named `xenstore-read`. */
export interface ToolInvocation {
  /** Prefix of error messages (the program's short name). */
  readonly program: string;
  /** The program as usage messages name it (`argv[0]`). */
  readonly argv0: string;
  /** True when the mode came from the first argument rather than the program name. */
  readonly modeArgument: boolean;
}

/** Runs one drop-in mode with its arguments (after the mode name); resolves to the exit status. */
export async function runTool(
  mode: ToolMode,
  args: readonly string[],
  invocation: ToolInvocation,
  io: CliIo,
): Promise<number> {
  const spec = modes[mode];
  const diag = new Diagnostics(io, invocation.program);
  const usage = (): never =>
    diag.errx(
      `Usage: ${invocation.argv0} ${invocation.modeArgument ? `${mode} ` : ''}${spec.usage}`,
    );
  // getopt names the program by the argument vector it parses: the mode name after a switch.
  const getoptName = invocation.modeArgument ? mode : invocation.argv0;
  const parsed = getoptLong(args, 'hfspturn:R', longOptions, getoptName, (line) =>
    io.stderr.write(`${line}\n`),
  );
  const flags = {
    prefix: false,
    tidy: false,
    upto: false,
    recurse: false,
    raw: false,
    flat: false,
    watchCount: -1,
    json: false,
  };
  let mock = false;
  for (const option of parsed.options) {
    if (option.letter === 'h') usage();
    if (option.letter === 's') continue;
    if (option.letter === MOCK_OPTION) {
      mock = true;
      continue;
    }
    if (!validIn[option.letter]?.includes(mode)) usage();
    switch (option.letter) {
      case 'f':
        flags.flat = true;
        break;
      case 'p':
        flags.prefix = true;
        break;
      case 't':
        flags.tidy = true;
        break;
      case 'u':
        flags.upto = true;
        break;
      case 'r':
        flags.recurse = true;
        break;
      case 'n':
        flags.watchCount = atoi(option.value ?? '');
        break;
      case 'R':
        flags.raw = true;
        break;
      case JSON_OPTION:
        flags.json = true;
        break;
    }
  }
  const operands = parsed.operands;
  if (mode === 'write' && operands.length % 2 === 1) usage();
  if (mode !== 'ls' && operands.length === 0) usage();

  let target: Target;
  try {
    target = await openTarget({ mock, env: io.env });
  } catch (error) {
    return diag.errx(`xs_open: ${strerror(connectErrorCode(error))}`);
  }
  try {
    return await runInTransaction(spec, { client: target.client, operands, flags, io, diag });
  } finally {
    await target.close();
  }
}

async function runInTransaction(
  spec: ModeSpec,
  base: Omit<ToolContext, 'ops' | 'output'>,
): Promise<number> {
  const output = new OutputBuffer();
  const transaction = spec.transaction(base.operands.length);
  for (;;) {
    const tx = transaction
      ? await base.client
          .transactionStart()
          .catch(() => base.diag.errx("couldn't start transaction"))
      : undefined;
    const status = await spec.perform({ ...base, ops: tx ?? base.client, output });
    if (tx) {
      try {
        // As the C tools do: commit what succeeded, abort what failed.
        await (status === 0 ? tx.commit() : tx.abort());
      } catch (error) {
        if (status === 0 && error instanceof XenstoreError && error.code === 'EAGAIN') {
          output.reset();
          continue;
        }
        base.diag.errx("couldn't end transaction");
      }
    }
    output.flushTo(base.io.stdout);
    return status;
  }
}
