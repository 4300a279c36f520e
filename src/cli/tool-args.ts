import { type ParseArgsConfig, parseArgs } from 'node:util';
import { CliExit, type CliIo, type Diagnostics, USAGE_ERROR } from './io.ts';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** What {@link parseToolArgs} returns for a given options table. */
export type ToolArgs<O extends OptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
>;

/**
 * Parses the options of one of xenwire's own tools (not the drop-ins, which follow getopt). An
 * unknown option prints the message and the usage and ends the command with status 2; `--help`
 * prints the usage and ends it with 0. Operands are refused unless `allowPositionals`.
 */
export function parseToolArgs<O extends OptionsConfig>(
  args: readonly string[],
  options: O,
  usage: string,
  io: CliIo,
  diag: Diagnostics,
  allowPositionals = false,
): ToolArgs<O> {
  let parsed: ToolArgs<O>;
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true });
    if (!allowPositionals && parsed.positionals.length > 0) {
      throw new TypeError(`Unexpected argument '${parsed.positionals[0]}'`);
    }
  } catch (error) {
    diag.errx(`${(error as Error).message}\n${usage}`, USAGE_ERROR, 2);
  }
  if ((parsed.values as { help?: boolean }).help) {
    io.stdout.write(usage);
    throw new CliExit(0);
  }
  return parsed;
}
