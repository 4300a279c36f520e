#!/usr/bin/env node
/**
 * `xenwire`: drop-in replacements for Xen 4.17's xenstore tools (`read`, `write`, `ls`, `list`,
 * `rm`, `exists`, `chmod`, `watch`, `control`) and protocol tools (`serve`, `proxy`, `replay`,
 * `tree`). Invoked through a link named `xenstore-<mode>`, it behaves as that tool.
 */
import { realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBlkback } from './commands/blkback.ts';
import { runConformanceCommand } from './commands/conformance.ts';
import { runConsole } from './commands/console.ts';
import { runControl } from './commands/control.ts';
import { runProxy } from './commands/proxy.ts';
import { runReplay } from './commands/replay.ts';
import { runServe } from './commands/serve.ts';
import { runSnapshot } from './commands/snapshot.ts';
import { runTree } from './commands/tree.ts';
import { CliExit, type CliIo, Diagnostics } from './io.ts';
import { isToolMode, runTool } from './xenstore-tool.ts';

const PROGRAM = 'xenwire';

const help = `Usage: ${PROGRAM} <command> [options] [args]

Drop-in xenstore tools (same options, output and exit status as Xen 4.17's xenstore-*):
  read [-p] [-R] key...           print values (--json: JSON lines)
  write [-R] key value...         write values
  ls [-f] [-p] [path...]          print a subtree (--json: one JSON line per node)
  list [-p] key...                print children (--json)
  rm [-t] key...                  remove nodes
  exists key...                   exit status 0 when every key exists
  chmod [-u] [-r] key mode...     set permissions (n, r, w, b + domid)
  watch [-n NR] key...            print watch events (--json: path and watched key)
  control <command> [arg...]      xenstored control commands
  Each takes --mock to use an embedded in-memory xenstored instead of the daemon, found as
  libxenstore finds it: $XENSTORED_PATH, else $XENSTORED_RUNDIR/socket, else
  /var/run/xenstored/socket, else /dev/xen/xenbus.

Protocol tools:
  serve [--socket PATH] [--seed FILE | --load STREAM] [--guest-domains 1,2 --guest-socket-dir DIR]
        [--trace FILE] [--eagain-rate R] [--fault-seed N] [--xen-version 4.17]
                                  run the in-memory xenstored
  proxy --listen PATH --to PATH [--trace FILE.jsonl] [--log FILE] [--quiet]
                                  decode and record all traffic to a xenstored
  replay TRACE.jsonl [--to PATH]  replay a proxy trace, report differing replies
  snapshot --to FILE [--mock]     a daemon's store as a xenstore migration stream
  tree [PATH] [--watch] [--color] [--count N]
                                  print a subtree, redrawn as it changes

Devices:
  blkback --domain N --image FILE [--read-only] [--devid xvdb]
                                  serve a disk image to a guest (blkif backend)
  console DOMID                   a guest's PV console, as its backend (Ctrl-] detaches)
`;

/** Runs one command line (without the program name); resolves to the exit status. */
export async function main(
  args: readonly string[],
  io: CliIo,
  programPath = PROGRAM,
): Promise<number> {
  try {
    return await dispatch(args, io, programPath);
  } catch (error) {
    if (error instanceof CliExit) return error.status;
    io.stderr.write(`${PROGRAM}: ${(error as Error).message}\n`);
    return 1;
  }
}

async function dispatch(args: readonly string[], io: CliIo, programPath: string): Promise<number> {
  const linkName = basename(programPath);
  if (linkName.startsWith('xenstore-')) {
    const mode = linkName.slice('xenstore-'.length);
    if (mode === 'control') return runControl(args, io, programPath);
    if (isToolMode(mode)) {
      return runTool(
        mode,
        args,
        { program: linkName, argv0: programPath, modeArgument: false },
        io,
      );
    }
  }
  const [command, ...rest] = args;
  const diag = new Diagnostics(io, PROGRAM);
  switch (command) {
    case undefined:
      // As the C multi-call program answers; `--help` lists the commands.
      return diag.errx(`Usage: ${PROGRAM} <mode> [-h] [...]`);
    case '-h':
    case '--help':
    case 'help':
      io.stdout.write(help);
      return 0;
    case 'control':
      return rest[0] === '--mock'
        ? runControl(rest.slice(1), io, `${PROGRAM} control`, { mock: true })
        : runControl(rest, io, `${PROGRAM} control`);
    case 'serve':
      return runServe(rest, io);
    case 'proxy':
      return runProxy(rest, io);
    case 'snapshot':
      return runSnapshot(rest, io);
    case 'replay':
      return runReplay(rest, io);
    case 'tree':
      return runTree(rest, io);
    case 'console':
      return runConsole(rest, io);
    case 'conformance':
      return runConformanceCommand(rest, io);
    case 'blkback':
      return runBlkback(rest, io);
    default:
      if (isToolMode(command)) {
        return runTool(command, rest, { program: PROGRAM, argv0: PROGRAM, modeArgument: true }, io);
      }
      // The C program's message, trailing newline (and so an empty line) included.
      return diag.errx(`unknown mode ${command}\n`);
  }
}

// The commands that shut down cleanly when interrupted (closing sockets, flushing traces). The
// drop-in tools are killed by the signal, as the C tools are.
const INTERRUPTIBLE = new Set(['serve', 'proxy', 'tree', 'console', 'blkback']);

/** Runs `main` as this process: real streams; SIGINT/SIGTERM stop the interruptible commands. */
export async function runAsProcess(): Promise<void> {
  const controller = new AbortController();
  if (INTERRUPTIBLE.has(process.argv[2] ?? '')) {
    const onSignal = () => {
      // A second interrupt does not wait for the clean shutdown.
      if (controller.signal.aborted) process.exit(130);
      controller.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
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
  );
  // Exit once both streams have taken everything (pipes may still be draining).
  process.stdout.write('', () => process.stderr.write('', () => process.exit(status)));
}

/** The script path when it is a `xenstore-<mode>` link to this program. */
function linkedAs(script: string | undefined): string | undefined {
  return script && basename(script).startsWith('xenstore-') ? script : undefined;
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) await runAsProcess();
