import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliIo, OutputStream } from '../../src/cli/io.ts';
import { main } from '../../src/cli/main.ts';
import type { XenInstall } from '../support/real-xenstored.ts';

/** An output stream that keeps everything written, and lets a test wait for some of it. */
export class Capture implements OutputStream {
  #chunks: Buffer[] = [];
  #waiters: (() => void)[] = [];

  constructor(
    readonly isTTY = false,
    readonly columns?: number,
  ) {}

  write(chunk: string | Uint8Array): boolean {
    this.#chunks.push(Buffer.from(chunk));
    for (const wake of this.#waiters.splice(0)) wake();
    return true;
  }

  get text(): string {
    return Buffer.concat(this.#chunks).toString('utf8');
  }

  /** Resolves once the captured text matches `pattern`. */
  async waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
    for (;;) {
      const match = this.text.match(pattern);
      if (match) return match;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }
}

/** What a command printed and its exit status. */
export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `xenwire args…` in-process against the daemon at `socketPath` (or none). */
export async function xenwire(args: string[], socketPath?: string): Promise<CliResult> {
  const stdout = new Capture();
  const stderr = new Capture();
  const env = { ...process.env, XENSTORED_PATH: socketPath ?? '/nonexistent/xenstored.sock' };
  const status = await main(args, { stdout, stderr, env });
  return { status, stdout: stdout.text, stderr: stderr.text };
}

/** A long-running command started in-process; `stop()` interrupts it as Ctrl-C would. */
export function startXenwire(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const stdout = new Capture();
  const stderr = new Capture();
  const controller = new AbortController();
  const io: CliIo = { stdout, stderr, env, signal: controller.signal };
  const status = main(args, io);
  return {
    stdout,
    stderr,
    status,
    async stop(): Promise<number> {
      controller.abort();
      return status;
    },
  };
}

/** An in-process `xenwire serve` on a socket in a fresh directory. */
export interface TempServer {
  readonly dir: string;
  readonly socket: string;
  /** Interrupts the server and removes the directory. */
  stop(): Promise<void>;
}

/** Starts `xenwire serve --socket … flags…` in a new temporary directory named after `name`. */
export async function serveInTempDir(name: string, ...flags: string[]): Promise<TempServer> {
  const dir = await mkdtemp(join(tmpdir(), `xenwire-${name}-`));
  const socket = join(dir, 'xenstored.sock');
  const served = startXenwire(['serve', '--socket', socket, ...flags]);
  await served.stdout.waitFor(/listening on/);
  return {
    dir,
    socket,
    async stop() {
      await served.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs Xen's multi-call `xenstore <mode> args…` against `socketPath`, with the program path and
 * name rewritten to `xenwire` so that its messages compare with ours.
 */
export function xenstoreC(
  install: XenInstall,
  args: string[],
  socketPath: string,
): Promise<CliResult> {
  return runProgram(`${install.toolDir}/xenstore`, args, socketPath, install, (text, program) =>
    text.replaceAll(program, 'xenwire').replace(/^xenstore:/gm, 'xenwire:'),
  );
}

/** Runs Xen's `xenstore-control args…`, its program path rewritten to `xenwire control`. */
export function xenstoreControlC(
  install: XenInstall,
  args: string[],
  socketPath: string,
): Promise<CliResult> {
  return runProgram(
    `${install.xenBinDir}/xenstore-control`,
    args,
    socketPath,
    install,
    (text, program) => text.replaceAll(program, 'xenwire control'),
  );
}

// Asynchronous, so that an in-process proxy or server between it and the daemon keeps running.
function runProgram(
  program: string,
  args: string[],
  socketPath: string,
  install: XenInstall,
  normalise: (text: string, program: string) => string,
): Promise<CliResult> {
  const env = { ...process.env, XENSTORED_PATH: socketPath, LD_LIBRARY_PATH: install.libDir };
  return new Promise((resolve) => {
    execFile(program, args, { env, encoding: 'utf8', timeout: 20_000 }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ status, stdout, stderr: normalise(stderr, program) });
    });
  });
}

/** The launcher, which runs dist/ when a build left one there, else the sources. */
export const launcher = fileURLToPath(new URL('../../bin/xenwire.cjs', import.meta.url));

/** The program's entry script, for processes that must run the current sources. */
export const entry = fileURLToPath(new URL('../../src/cli/run.ts', import.meta.url));

/** `node` arguments running the sources of the program at `script` (the entry, or a link to it). */
export function sourceCommand(script = entry): string[] {
  return [process.execPath, '--import', 'tsx', script];
}
