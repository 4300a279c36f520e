/**
 * GNU `getopt_long` as glibc implements it, so that the drop-in subcommands accept exactly the
 * command lines the C xenstore tools accept: options and operands in any order, short options
 * clustered (`-fp`, `-n1`), long options abbreviated to any unique prefix (`--pre`), and `--`
 * ending the options. Diagnostics are glibc's, word for word; like the C tools, callers ignore
 * the options that produced one.
 */

/** A long option: its name and whether it takes an argument. */
export interface LongOption {
  readonly name: string;
  /** The short option letter it stands for. */
  readonly letter: string;
  readonly hasArg: boolean;
}

/** One recognised option, in command-line order. */
export interface ParsedOption {
  readonly letter: string;
  readonly value?: string;
}

/** What {@link getoptLong} found. */
export interface GetoptResult {
  readonly options: ParsedOption[];
  readonly operands: string[];
}

/**
 * Parses `args` (without the program name). `shortSpec` is getopt's option string (`"n:"`: `n`
 * takes an argument). `program` prefixes diagnostics, which go to `warn` one line at a time.
 */
export function getoptLong(
  args: readonly string[],
  shortSpec: string,
  longOptions: readonly LongOption[],
  program: string,
  warn: (line: string) => void,
): GetoptResult {
  const options: ParsedOption[] = [];
  const operands: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      i = parseLong(args, i, longOptions, program, warn, options);
    } else if (arg.startsWith('-') && arg.length > 1) {
      i = parseCluster(args, i, shortSpec, program, warn, options);
    } else {
      operands.push(arg);
    }
  }
  return { options, operands };
}

function parseLong(
  args: readonly string[],
  at: number,
  longOptions: readonly LongOption[],
  program: string,
  warn: (line: string) => void,
  out: ParsedOption[],
): number {
  const arg = args[at]!;
  const eq = arg.indexOf('=');
  const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
  const exact = longOptions.find((option) => option.name === name);
  const candidates = exact ? [exact] : longOptions.filter((option) => option.name.startsWith(name));
  if (candidates.length === 0) {
    warn(`${program}: unrecognized option '--${name}'`);
    return at;
  }
  if (candidates.length > 1) {
    const list = candidates.map((option) => ` '--${option.name}'`).join('');
    warn(`${program}: option '--${name}' is ambiguous; possibilities:${list}`);
    return at;
  }
  const option = candidates[0]!;
  if (!option.hasArg) {
    if (eq >= 0) {
      warn(`${program}: option '--${option.name}' doesn't allow an argument`);
      return at;
    }
    out.push({ letter: option.letter });
    return at;
  }
  if (eq >= 0) {
    out.push({ letter: option.letter, value: arg.slice(eq + 1) });
    return at;
  }
  const value = args[at + 1];
  if (value === undefined) {
    warn(`${program}: option '--${option.name}' requires an argument`);
    return at;
  }
  out.push({ letter: option.letter, value });
  return at + 1;
}

function parseCluster(
  args: readonly string[],
  at: number,
  shortSpec: string,
  program: string,
  warn: (line: string) => void,
  out: ParsedOption[],
): number {
  const arg = args[at]!;
  for (let j = 1; j < arg.length; j++) {
    const letter = arg[j]!;
    const spec = letter === ':' ? -1 : shortSpec.indexOf(letter);
    if (spec < 0) {
      warn(`${program}: invalid option -- '${letter}'`);
      continue;
    }
    if (shortSpec[spec + 1] !== ':') {
      out.push({ letter });
      continue;
    }
    // An argument-taking option ends the cluster: the rest of it, or else the next word.
    if (j + 1 < arg.length) {
      out.push({ letter, value: arg.slice(j + 1) });
      return at;
    }
    const value = args[at + 1];
    if (value === undefined) {
      warn(`${program}: option requires an argument -- '${letter}'`);
      return at;
    }
    out.push({ letter, value });
    return at + 1;
  }
  return at;
}

/** C's `atoi`, as the C tools read numeric arguments (and C xenstored numeric fields). */
export { atoi } from '../xenstore/numbers.ts';
