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

/** Thrown to end a command with an exit status once its message has been written. */
export class CliExit extends Error {
  constructor(readonly status: number) {
    super(`exit ${status}`);
  }
}

/**
 * BSD `err.h` for one program: `warnx`/`errx` print `<program>: <message>`; `errx` then ends the
 * command with status 1, as the C tools do.
 */
export class Diagnostics {
  constructor(
    private readonly io: CliIo,
    /** The short program name C's `err.h` prints (`program_invocation_short_name`). */
    readonly program: string,
  ) {}

  warnx(message: string): void {
    this.io.stderr.write(`${this.program}: ${message}\n`);
  }

  errx(message: string, status = 1): never {
    this.warnx(message);
    throw new CliExit(status);
  }
}
