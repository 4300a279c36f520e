import type { CliIo } from './io.ts';

/** How a command was reached: `xenwire <name> …`, or a link named `xenstore-<name>`. */
export interface Invocation {
  /** Prefix of error messages (the program's short name). */
  readonly program: string;
  /** The program as usage messages name it (`argv[0]`). */
  readonly argv0: string;
  /** True when the command name came from the first argument rather than the program name. */
  readonly modeArgument: boolean;
}

/**
 * What a command module exports as `command`. The module is loaded only when its command runs,
 * so a call of `xenwire read` loads nothing of the server, the proxy or the rings.
 */
export interface Command {
  /**
   * Runs the command on its arguments (after its name; global options such as `--mock` and
   * `--json` given before the name come first); resolves to the exit status. `--help` prints the
   * command's help on stdout and exits 0.
   */
  run(args: readonly string[], io: CliIo, invocation: Invocation): Promise<number>;
  /**
   * True for commands that shut down cleanly when interrupted (closing sockets, flushing files):
   * SIGINT and SIGTERM then abort `io.signal`. Others are killed by the signal, as the C tools are.
   */
  readonly interruptible?: boolean;
}

/** A registered command: its line in `xenwire --help`, and how to load it. */
export interface CommandEntry {
  readonly summary: string;
  readonly load: () => Promise<{ readonly command: Command }>;
}
