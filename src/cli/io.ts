/**
 * The process surroundings of a command: its output streams and environment. Commands write
 * only through this, so tests run them in-process and capture exactly what a user would see.
 */

/** An output stream; `isTTY` and `columns` as Node's `process.stdout` has them. */
export interface OutputStream {
  write(chunk: string | Uint8Array): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** What a command may touch. */
export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: NodeJS.ProcessEnv;
  /** Aborted when the user interrupts (SIGINT/SIGTERM): long-running commands stop cleanly. */
  readonly signal?: AbortSignal;
}

// Marks a CliExit by a registered symbol rather than by its class: each bundled command of the
// built program carries its own copy of this module, so `instanceof` fails across bundles.
const CLI_EXIT = Symbol.for('xenwire.cli.exit');

/** Thrown to end a command with an exit status once its message has been written. */
export class CliExit extends Error {
  readonly [CLI_EXIT] = true;

  constructor(readonly status: number) {
    super(`exit ${status}`);
  }
}

/** True for a {@link CliExit}, whichever copy of this module threw it. */
export function isCliExit(error: unknown): error is CliExit {
  return typeof error === 'object' && error !== null && CLI_EXIT in error;
}

/** What a failure was about, for `--json` error records. */
export interface Failure {
  /** An errno-style name: `ENOENT`, `EACCES`, `EINVAL` for a bad command line; default `EIO`. */
  readonly code?: string;
  /** The xenstore path or file it concerns. */
  readonly path?: string;
}

/** The failure of a command line the command cannot make sense of. */
export const USAGE_ERROR: Failure = { code: 'EINVAL' };

/** True when `--json` is among the options of `args` (before any `--`). */
export function wantsJson(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).includes('--json');
}

/**
 * BSD `err.h` for one program: `warnx`/`errx` print `<program>: <message>`; `errx` then ends the
 * command with status 1, as the C tools do. Under `--json` each message is instead one JSON line
 * `{"error": message, "code": "ENOENT", "path": …}` on stderr, so that scripts reading JSON get
 * their errors as JSON too.
 */
export class Diagnostics {
  constructor(
    private readonly io: CliIo,
    /** The short program name C's `err.h` prints (`program_invocation_short_name`). */
    readonly program: string,
    /** Whether messages are JSON records. */
    readonly json = false,
  ) {}

  warnx(message: string, failure: Failure = {}): void {
    if (this.json) this.report(message, failure);
    else this.io.stderr.write(`${this.program}: ${message}\n`);
  }

  /** Writes `line` as it is (it names the program already, as getopt's messages do). */
  report(line: string, failure: Failure = {}): void {
    if (!this.json) {
      this.io.stderr.write(`${line}\n`);
      return;
    }
    const record = {
      error: line.trim(),
      code: failure.code ?? 'EIO',
      ...(failure.path === undefined ? {} : { path: failure.path }),
    };
    this.io.stderr.write(`${JSON.stringify(record)}\n`);
  }

  errx(message: string, failure: Failure = {}, status = 1): never {
    this.warnx(message, failure);
    throw new CliExit(status);
  }
}
