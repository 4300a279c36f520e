/**
 * `xenwire`: drop-in replacements for Xen 4.17's xenstore tools and xenwire's own tools, each a
 * subcommand registered in `registry.ts`. Invoked through a link named `xenstore-<mode>`, it
 * behaves as that tool.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command, CommandEntry, Invocation } from './command.ts';
import { type CliIo, Diagnostics, isCliExit, USAGE_ERROR, wantsJson } from './io.ts';
import { dropInCommands, toolCommands } from './registry.ts';

const PROGRAM = 'xenwire';

/** Options of the program as a whole; any of them may also follow the subcommand's name. */
const GLOBAL_OPTIONS = new Set(['--json', '--mock']);

function lines(commands: Readonly<Record<string, CommandEntry>>): string {
  const names = [...Object.keys(dropInCommands), ...Object.keys(toolCommands)];
  const width = Math.max(...names.map((name) => name.length));
  return Object.entries(commands)
    .map(([name, entry]) => `  ${name.padEnd(width + 2)}${entry.summary}\n`)
    .join('');
}

function help(): string {
  return `Usage: ${PROGRAM} [--json] [--mock] <command> [options] [args]
       ${PROGRAM} <command> --help
       ${PROGRAM} --version

Drop-in xenstore tools (the options, output and exit status of Xen 4.17's xenstore-<command>):
${lines(dropInCommands)}
Other tools:
${lines(toolCommands)}
Global options, accepted before or after the command where it applies:
  --json    JSON lines instead of text (read, list, ls, watch, exists, doctor); errors are then
            JSON too: {"error": message, "code": "ENOENT", "path": …} on stderr
  --mock    use an embedded in-memory xenstored with a Domain-0 tree instead of the daemon

The daemon is found as libxenstore finds it: $XENSTORED_PATH, else $XENSTORED_RUNDIR/socket,
else /var/run/xenstored/socket, else /dev/xen/xenbus.
`;
}

function version(): string {
  const manifest = new URL('../../package.json', import.meta.url);
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  return `${PROGRAM} ${version}\n`;
}

function find(name: string): CommandEntry | undefined {
  if (Object.hasOwn(dropInCommands, name)) return dropInCommands[name];
  if (Object.hasOwn(toolCommands, name)) return toolCommands[name];
  return undefined;
}

/** What the process running `main` does once the command is known. */
export interface ProcessHooks {
  /** Called before an interruptible command runs: from then on, interrupts abort `io.signal`. */
  readonly trapInterrupts?: () => void;
}

/** Runs one command line (without the program name); resolves to the exit status. */
export async function main(
  args: readonly string[],
  io: CliIo,
  programPath = PROGRAM,
  hooks: ProcessHooks = {},
): Promise<number> {
  const diag = new Diagnostics(io, PROGRAM, wantsJson(args));
  try {
    return await dispatch(args, io, programPath, hooks, diag);
  } catch (error) {
    if (isCliExit(error)) return error.status;
    const code = (error as { code?: unknown }).code;
    diag.warnx((error as Error).message, { code: typeof code === 'string' ? code : 'EIO' });
    return 1;
  }
}

async function start(
  entry: CommandEntry,
  args: readonly string[],
  io: CliIo,
  invocation: Invocation,
  hooks: ProcessHooks,
): Promise<number> {
  const { command }: { command: Command } = await entry.load();
  if (command.interruptible) hooks.trapInterrupts?.();
  return command.run(args, io, invocation);
}

async function dispatch(
  args: readonly string[],
  io: CliIo,
  programPath: string,
  hooks: ProcessHooks,
  diag: Diagnostics,
): Promise<number> {
  const linkName = basename(programPath);
  if (linkName.startsWith('xenstore-')) {
    const mode = linkName.slice('xenstore-'.length);
    if (Object.hasOwn(dropInCommands, mode)) {
      const invocation = { program: linkName, argv0: programPath, modeArgument: false };
      return start(dropInCommands[mode]!, args, io, invocation, hooks);
    }
  }
  let at = 0;
  while (at < args.length && GLOBAL_OPTIONS.has(args[at]!)) at++;
  const globals = args.slice(0, at);
  const [name, ...rest] = args.slice(at);
  const invocation = { program: PROGRAM, argv0: PROGRAM, modeArgument: true };
  switch (name) {
    case undefined:
      // As the C multi-call program answers; `--help` lists the commands.
      return diag.errx(`Usage: ${PROGRAM} <mode> [-h] [...]`, USAGE_ERROR);
    case '-h':
    case '--help':
      io.stdout.write(help());
      return 0;
    case '--version':
      io.stdout.write(version());
      return 0;
    case 'help': {
      if (rest[0] === undefined) {
        io.stdout.write(help());
        return 0;
      }
      const entry = find(rest[0]);
      if (!entry) return diag.errx(`unknown mode ${rest[0]}\n`, USAGE_ERROR);
      return start(entry, ['--help'], io, invocation, hooks);
    }
  }
  const entry = find(name);
  // The C program's message, trailing newline (and so an empty line) included.
  if (!entry) return diag.errx(`unknown mode ${name}\n`, USAGE_ERROR);
  return start(entry, [...globals, ...rest], io, invocation, hooks);
}

/** Runs `main` as this process: real streams; SIGINT/SIGTERM stop the interruptible commands. */
export async function runAsProcess(): Promise<void> {
  const controller = new AbortController();
  const trapInterrupts = () => {
    const onSignal = () => {
      // A second interrupt does not wait for the clean shutdown.
      if (controller.signal.aborted) process.exit(130);
      controller.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  };
  // A reader that went away (`xenwire ls | head`) ends the program quietly, as SIGPIPE ends the C
  // tools: Node ignores that signal, so its exit status (128 + 13) is given by hand.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(141);
  });
  const status = await main(
    process.argv.slice(2),
    { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: controller.signal },
    linkedAs(process.argv[1]) ?? PROGRAM,
    { trapInterrupts },
  );
  // Exit once both streams have taken everything (pipes may still be draining).
  process.stdout.write('', () => process.stderr.write('', () => process.exit(status)));
}

/** The script path when it is a `xenstore-<mode>` link to this program. */
function linkedAs(script: string | undefined): string | undefined {
  return script && basename(script).startsWith('xenstore-') ? script : undefined;
}
