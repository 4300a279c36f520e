import type { XenstoreClient } from '../xenstore/client.ts';
import { XenstoreError } from '../xenstore/errors.ts';
import type { Command, Invocation } from './command.ts';
import { atoi, getoptLong, type LongOption } from './getopt.ts';
import { type CliIo, Diagnostics, USAGE_ERROR, wantsJson } from './io.ts';
import { OutputBuffer } from './output-buffer.ts';
import { strerror } from './strerror.ts';
import { connectErrorCode, errorCode, openTarget, type Target } from './target.ts';

/**
 * The drop-in subcommands, driven as Xen 4.17's multi-call `xenstore` program drives its modes:
 * the same options (each valid only in some modes), usage messages, transaction around the work
 * (retried on EAGAIN), output held back until the end, and exit statuses.
 */

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

/** One drop-in mode: what it accepts and what it does. */
export interface ModeSpec {
  readonly mode: string;
  /** The C tool's usage line after the program (and mode) name. */
  readonly usage: string;
  /** What `xenwire <mode> --help` says after the usage line: what it does, its options. */
  readonly description: string;
  /** The option letters it takes besides `-h` and `-s` (which every mode takes). */
  readonly letters: string;
  /** Whether it takes `--json`. */
  readonly json: boolean;
  /** Whether the work runs in a transaction, given the operand count. */
  readonly transaction: (operands: number) => boolean;
  readonly perform: Perform;
}

// Letters the modes accept; xenwire's own long options use names no C option starts with.
const JSON_OPTION = 'json';
const MOCK_OPTION = 'mock';
// `--help` as a word of its own: `xenwire read --help` prints the help, where `-h` (and, in
// a `xenstore-read` link, `--help`) prints the C tool's usage message and exits 1.
const HELP_OPTION = 'help';
const longOptions: readonly LongOption[] = [
  { name: 'help', letter: HELP_OPTION, hasArg: false },
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

const COMMON_OPTIONS_HELP = `  --mock        use an embedded in-memory xenstored with a Domain-0 tree, not the daemon
  -s            accepted and ignored, as by the C tool
  -h            print the usage message and exit 1, as the C tool does
`;

/** The `Command` of one drop-in mode. */
export function dropInCommand(spec: ModeSpec): Command {
  return { run: (args, io, invocation) => runTool(spec, args, invocation, io) };
}

/** Runs one drop-in mode with its arguments (after the mode name); resolves to the exit status. */
async function runTool(
  spec: ModeSpec,
  args: readonly string[],
  invocation: Invocation,
  io: CliIo,
): Promise<number> {
  const { mode } = spec;
  const diag = new Diagnostics(io, invocation.program, wantsJson(args));
  const usageLine = `Usage: ${invocation.argv0} ${invocation.modeArgument ? `${mode} ` : ''}${spec.usage}`;
  const usage = (): never => diag.errx(usageLine, USAGE_ERROR);
  // getopt names the program by the argument vector it parses: the mode name after a switch.
  const getoptName = invocation.modeArgument ? mode : invocation.argv0;
  const parsed = getoptLong(args, 'hfspturn:R', longOptions, getoptName, (line) =>
    diag.report(line, USAGE_ERROR),
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
    switch (option.letter) {
      case HELP_OPTION:
        if (!invocation.modeArgument) usage();
        io.stdout.write(`${usageLine}\n\n${spec.description}\n${COMMON_OPTIONS_HELP}`);
        return 0;
      case 'h':
        usage();
        break;
      case 's':
        break;
      case MOCK_OPTION:
        mock = true;
        break;
      case JSON_OPTION:
        if (!spec.json) usage();
        flags.json = true;
        break;
      default:
        if (!spec.letters.includes(option.letter)) usage();
        setFlag(flags, option.letter, option.value);
    }
  }
  const operands = parsed.operands;
  if (mode === 'write' && operands.length % 2 === 1) usage();
  if (mode !== 'ls' && operands.length === 0) usage();

  let target: Target;
  try {
    target = await openTarget({ mock, env: io.env });
  } catch (error) {
    const code = connectErrorCode(error);
    return diag.errx(`xs_open: ${strerror(code)}`, { code });
  }
  try {
    return await runInTransaction(spec, { client: target.client, operands, flags, io, diag });
  } finally {
    await target.close();
  }
}

function setFlag(
  flags: { -readonly [K in keyof ToolFlags]: ToolFlags[K] },
  letter: string,
  value?: string,
): void {
  switch (letter) {
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
      flags.watchCount = atoi(value ?? '');
      break;
    case 'R':
      flags.raw = true;
      break;
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
          .catch((error: unknown) =>
            base.diag.errx("couldn't start transaction", { code: errorCode(error) }),
          )
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
        base.diag.errx("couldn't end transaction", { code: errorCode(error) });
      }
    }
    output.flushTo(base.io.stdout);
    return status;
  }
}
