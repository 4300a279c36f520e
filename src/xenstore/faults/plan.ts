import { isWireErrorName, type WireErrorName } from '../constants.ts';
import { MESSAGES, type RequestName } from '../messages.ts';

/**
 * What faults to inject into a connection, as options say it: the form `xenwire proxy`,
 * `xenwire serve` and `ServerOptions.faults` share. Numbers may be given as text, ranges as
 * `MIN-MAX`. {@link parseFaultSpec} turns it into a {@link FaultPlan}.
 * @category Server
 */
export interface FaultSpec {
  /** Seed of every random choice (an unsigned 32-bit integer). Default: one drawn at random. */
  readonly seed?: number | string;
  /** Delay of every message to the client, in ms: `5` or a random `2-20`. */
  readonly delay?: number | string;
  /** Write every message to the client in chunks of this many bytes: `1` or a random `1-7`. */
  readonly split?: number | string;
  /** Close the connection instead of forwarding request N+1 (`N` or a random `MIN-MAX`). */
  readonly dropAfter?: number | string;
  /** Forward request N+1, then tear its reply in half and close (`N` or `MIN-MAX`). */
  readonly resetAfter?: number | string;
  /**
   * Answer requests with an error instead of forwarding them: `OP:PATH:ERRNO[:RATE]`, e.g.
   * `WRITE:/local/domain/*\/device/*:EAGAIN:0.1` (see {@link InjectRule}).
   */
  readonly inject?: string | readonly string[];
  /** Fraction (0..1) of watch events delivered twice. */
  readonly duplicateEvents?: number | string;
  /** Fraction (0..1) of watch events held back until the next event has been delivered. */
  readonly reorderEvents?: number | string;
  /** `RATE:MS`: hold that fraction of replies (and all that follows them) for MS ms. */
  readonly stall?: string;
}

/**
 * An inclusive range of integers; `min === max` for a fixed value.
 * @category Server
 */
export interface FaultRange {
  /** The smallest value drawn. */
  readonly min: number;
  /** The largest value drawn. */
  readonly max: number;
}

/**
 * One `--inject` rule.
 * @category Server
 */
export interface InjectRule {
  /** The rule as written. */
  readonly text: string;
  /** The request type it applies to, or `*` for all. */
  readonly op: RequestName | '*';
  /**
   * Path pattern, matched against the path as the client sent it: `*` stands for any characters
   * but `/`, and a pattern also matches every path below one it matches (as a watch does). `*`
   * alone matches every request, those without a path included.
   */
  readonly path: string;
  /** The errno name the matching requests are answered with. */
  readonly error: WireErrorName;
  /** Probability (0..1) that a matching request gets the error. */
  readonly rate: number;
}

/**
 * A parsed, checked {@link FaultSpec}.
 * @category Server
 */
export interface FaultPlan {
  /** Seed of every random choice: the same plan on the same traffic applies the same faults. */
  readonly seed: number;
  /** Delay of every message to the client, in ms. */
  readonly delay?: FaultRange;
  /** Sizes of the chunks every message to the client is written in. */
  readonly split?: FaultRange;
  /** When and how the connection ends (`dropAfter` or `resetAfter`). */
  readonly disconnect?: {
    /** How many requests are forwarded first. */
    readonly after: FaultRange;
    /** `drop`: close instead of forwarding the next; `reset`: forward it, tear its reply. */
    readonly mode: 'drop' | 'reset';
  };
  /** The error rules, in the order they are tried. */
  readonly inject: readonly InjectRule[];
  /** Fraction of watch events delivered twice. */
  readonly duplicateEvents: number;
  /** Fraction of watch events held back until the next one. */
  readonly reorderEvents: number;
  /** Replies held, with all after them. */
  readonly stall?: {
    /** The fraction of replies held (0..1). */
    readonly rate: number;
    /** How long each is held, in ms. */
    readonly ms: number;
  };
}

/**
 * A fault spec that cannot be parsed; `option` names the option, `part` the offending text.
 * @category Errors
 */
export class FaultSpecError extends Error {
  /** Always `EINVAL`: the spec is malformed. */
  readonly code = 'EINVAL';

  constructor(
    /** The option at fault, as {@link FaultSpec} names it. */
    readonly option: string,
    /** The text it could not parse. */
    readonly part: string,
    why: string,
  ) {
    super(`fault ${option}: ${why}: ${JSON.stringify(part)}`);
    this.name = 'FaultSpecError';
  }
}

/** Whether a plan injects anything at all. */
export function injectsFaults(plan: FaultPlan): boolean {
  return (
    plan.delay !== undefined ||
    plan.split !== undefined ||
    plan.disconnect !== undefined ||
    plan.inject.length > 0 ||
    plan.duplicateEvents > 0 ||
    plan.reorderEvents > 0 ||
    plan.stall !== undefined
  );
}

/** The plan a spec describes, or `undefined` when it injects no fault (no injector needed). */
export function faultPlanOf(spec: FaultSpec): FaultPlan | undefined {
  const plan = parseFaultSpec(spec);
  return injectsFaults(plan) ? plan : undefined;
}

/**
 * Parses and checks `spec`; throws a {@link FaultSpecError} naming the bad option and part. The
 * seed, when not given, is drawn at random: the plan records it so the run can be repeated.
 * @category Server
 */
export function parseFaultSpec(spec: FaultSpec): FaultPlan {
  if (spec.dropAfter !== undefined && spec.resetAfter !== undefined) {
    throw new FaultSpecError('dropAfter', String(spec.dropAfter), 'give dropAfter or resetAfter');
  }
  const disconnectText = spec.dropAfter ?? spec.resetAfter;
  const inject = spec.inject === undefined ? [] : [spec.inject].flat();
  return {
    seed:
      spec.seed === undefined
        ? Math.floor(Math.random() * 2 ** 32)
        : integer('seed', String(spec.seed), 0, 2 ** 32 - 1),
    ...(spec.delay !== undefined && { delay: range('delay', spec.delay, 0) }),
    ...(spec.split !== undefined && { split: range('split', spec.split, 1) }),
    ...(disconnectText !== undefined && {
      disconnect: {
        after: range(spec.dropAfter !== undefined ? 'dropAfter' : 'resetAfter', disconnectText, 0),
        mode: spec.dropAfter !== undefined ? 'drop' : 'reset',
      },
    }),
    inject: inject.map(injectRule),
    duplicateEvents: rate('duplicateEvents', spec.duplicateEvents),
    reorderEvents: rate('reorderEvents', spec.reorderEvents),
    ...(spec.stall !== undefined && { stall: stall(spec.stall) }),
  };
}

function integer(option: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
    const bounds = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `in ${min}..${max}`;
    throw new FaultSpecError(option, text, `not an integer ${bounds}`);
  }
  return value;
}

function range(option: string, given: number | string, min: number): FaultRange {
  const text = String(given);
  const parts = text.split('-');
  if (!/^\d+(-\d+)?$/.test(text)) throw new FaultSpecError(option, text, 'not N or MIN-MAX');
  const low = integer(option, parts[0]!, min);
  const high = parts.length === 2 ? integer(option, parts[1]!, min) : low;
  if (high < low) throw new FaultSpecError(option, text, 'MAX is below MIN');
  return { min: low, max: high };
}

function rate(option: string, given: number | string | undefined): number {
  if (given === undefined) return 0;
  const text = String(given);
  const value = Number(text);
  if (text.trim() === '' || !(value >= 0 && value <= 1)) {
    throw new FaultSpecError(option, text, 'not a rate between 0 and 1');
  }
  return value;
}

function stall(text: string) {
  const parts = text.split(':');
  if (parts.length !== 2) throw new FaultSpecError('stall', text, 'not RATE:MS');
  return { rate: rate('stall', parts[0]!), ms: integer('stall', parts[1]!, 0) };
}

function injectRule(text: string): InjectRule {
  const parts = text.split(':');
  if (parts.length < 3 || parts.length > 4) {
    throw new FaultSpecError('inject', text, 'not OP:PATH:ERRNO[:RATE]');
  }
  const [op, path, error, rateText] = parts as [string, string, string, string | undefined];
  if (op !== '*' && !Object.hasOwn(MESSAGES, op)) {
    throw new FaultSpecError('inject', op, 'not a request type (READ, WRITE, ... or *)');
  }
  if (path === '') throw new FaultSpecError('inject', text, 'empty path pattern');
  if (!isWireErrorName(error)) throw new FaultSpecError('inject', error, 'not a xenstore errno');
  return {
    text,
    op: op as RequestName | '*',
    path,
    error,
    rate: rateText === undefined ? 1 : rate('inject', rateText),
  };
}

/** Whether `rule` applies to a request of type `op` on `path` (undefined: it names none). */
export function ruleMatches(rule: InjectRule, op: string, path: string | undefined): boolean {
  if (rule.op !== '*' && rule.op !== op) return false;
  if (rule.path === '*') return true;
  if (path === undefined) return false;
  return pathPattern(rule.path).test(path);
}

const patterns = new Map<string, RegExp>();

function pathPattern(pattern: string): RegExp {
  let compiled = patterns.get(pattern);
  if (!compiled) {
    const body = pattern
      .split('*')
      .map((piece) => piece.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*');
    compiled = new RegExp(`^${body}(?:/.*)?$`);
    patterns.set(pattern, compiled);
  }
  return compiled;
}
