import { readFileSync } from 'node:fs';
import type { Check } from './check.ts';
import { C_4_17 } from './expectations/c-4.17.ts';
import { OXENSTORED_4_17 } from './expectations/oxenstored-4.17.ts';
import { XENWIRE } from './expectations/xenwire.ts';
import type { CheckResult, ConformanceRun } from './runner.ts';

/** Why an implementation fails a check, and how to see it. */
export interface KnownFailure {
  /** Why the implementation behaves so (its bug, or a deliberate difference), in one sentence. */
  readonly reason: string;
  /** The requests that show it and what the server answers. */
  readonly reproduction?: string;
}

/**
 * The checks one implementation is known to fail. Every check not listed must pass; a listed
 * check that passes is stale, and fails the run too, so the list cannot rot.
 */
export interface Expectations {
  /** Short name, as `--implementation` takes it. */
  readonly implementation: string;
  /** Which server, which version, run how. */
  readonly description: string;
  /** The checks it fails, by check id. */
  readonly knownFailures: Readonly<Record<string, KnownFailure>>;
}

/** The expectations shipped with xenwire, by `--implementation` name. */
export const BUILT_IN_EXPECTATIONS: Readonly<Record<string, Expectations>> = {
  [C_4_17.implementation]: C_4_17,
  [OXENSTORED_4_17.implementation]: OXENSTORED_4_17,
  [XENWIRE.implementation]: XENWIRE,
};

/** A check's result judged against the expectations. */
export type Verdict =
  /** Passed, as required. */
  | 'pass'
  /** Failed, and listed as a known failure. */
  | 'known'
  /** Failed without being listed. */
  | 'fail'
  /** Listed as a known failure, yet passed: the list is out of date. */
  | 'stale'
  /** Not run: the target lacks what the check needs. */
  | 'skip';

/** One judged result. */
export interface JudgedResult extends CheckResult {
  /** The outcome read against the expectations: only `fail` and `stale` break conformance. */
  readonly verdict: Verdict;
  /** The listed reason, for `known` and `stale`. */
  readonly known?: KnownFailure;
}

/** Counts per verdict. */
export type Summary = Readonly<Record<Verdict, number>> & {
  /** Every result, whatever its verdict. */
  readonly total: number;
};

/** A run with every result judged. */
export interface JudgedRun {
  /** Each check's result with its verdict, in the order they ran. */
  readonly results: readonly JudgedResult[];
  /** The verdicts counted, for a report's last line. */
  readonly summary: Summary;
  /** Copied from {@link ConformanceRun.serverLost}. */
  readonly serverLost?: string;
  /** The expectations judged against, if any (without any, every failure is a failure). */
  readonly expectations?: Expectations;
}

/** Judges each result of `run` against `expectations`. */
export function judge(run: ConformanceRun, expectations?: Expectations): JudgedRun {
  const results = run.results.map((result): JudgedResult => {
    const known = expectations?.knownFailures[result.check.id];
    const verdict: Verdict =
      result.outcome === 'skip'
        ? 'skip'
        : result.outcome === 'pass'
          ? known
            ? 'stale'
            : 'pass'
          : known
            ? 'known'
            : 'fail';
    return known ? { ...result, verdict, known } : { ...result, verdict };
  });
  const summary = { total: results.length, pass: 0, known: 0, fail: 0, stale: 0, skip: 0 };
  for (const result of results) summary[result.verdict]++;
  return {
    results,
    summary,
    ...(run.serverLost === undefined ? {} : { serverLost: run.serverLost }),
    ...(expectations === undefined ? {} : { expectations }),
  };
}

/** True when the run holds no unlisted failure and no stale expectation. */
export function conforms(run: JudgedRun): boolean {
  return run.summary.fail === 0 && run.summary.stale === 0;
}

/** Thrown for an expectations file that is not what {@link Expectations} describes. */
export class ExpectationsError extends Error {
  /** Always `'ExpectationsError'`. */
  override readonly name = 'ExpectationsError';
  /** Always `'EINVAL'`: the file, not the server, is at fault. */
  readonly code = 'EINVAL';
}

/**
 * Checks that `value` is an {@link Expectations} naming only checks of `catalogue` (a misspelt
 * or retired id would otherwise silently excuse nothing). `source` names it in errors.
 */
export function validateExpectations(
  value: unknown,
  catalogue: readonly Check[],
  source: string,
): Expectations {
  const fail = (what: string): never => {
    throw new ExpectationsError(`${source}: ${what}`);
  };
  if (typeof value !== 'object' || value === null) fail('not a JSON object');
  const { implementation, description, knownFailures } = value as Record<string, unknown>;
  if (typeof implementation !== 'string') fail('"implementation" must be a string');
  if (typeof description !== 'string') fail('"description" must be a string');
  if (typeof knownFailures !== 'object' || knownFailures === null) {
    fail('"knownFailures" must map check ids to {reason, reproduction?}');
  }
  const ids = new Set(catalogue.map((check) => check.id));
  for (const [id, entry] of Object.entries(knownFailures as object)) {
    if (!ids.has(id)) fail(`no check is called ${id}`);
    const { reason, reproduction } = (entry ?? {}) as Record<string, unknown>;
    if (typeof reason !== 'string' || reason === '')
      fail(`${id}: "reason" must be a non-empty string`);
    if (reproduction !== undefined && typeof reproduction !== 'string') {
      fail(`${id}: "reproduction" must be a string`);
    }
  }
  return value as Expectations;
}

/** Reads and validates an expectations JSON file. */
export function loadExpectations(path: string, catalogue: readonly Check[]): Expectations {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ExpectationsError(`${path}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ExpectationsError(`${path}: ${(error as Error).message}`);
  }
  return validateExpectations(value, catalogue, path);
}
