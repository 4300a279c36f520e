import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { scriptArbitrary } from './generator.ts';
import {
  type ConnectionKind,
  type DifferentialTarget,
  DOM0_CONNECTIONS,
  GUEST_CONNECTIONS,
  type ReferenceTarget,
  runScript,
  type StepObservation,
  settleWithin,
} from './run-script.ts';
import { formatReplay, type Script } from './script.ts';

/** Thrown when the two servers answered a script differently. */
export class DivergenceError extends Error {
  readonly code = 'EDIVERGE';
}

/** Thrown when a server died or stopped answering while it ran a script. */
export class ServerCrashError extends Error {
  readonly code = 'ECRASH';

  constructor(
    serverName: string,
    /** How the server failed: it exited (with the end of its log), or stopped answering. */
    readonly reason: string,
    /** The script it failed on. */
    readonly script: Script,
  ) {
    super(
      `the ${serverName} crashed on this script: ${reason}\n  script: ${JSON.stringify(script)}`,
    );
  }
}

/**
 * The reference crashed: a bug of the reference, not a difference of the candidate. The
 * reference has been restarted by then.
 */
export class ReferenceCrashError extends ServerCrashError {}

/** The server under test crashed (when it can tell, see {@link ReferenceTarget.failure}). */
export class CandidateCrashError extends ServerCrashError {}

/**
 * How long the reference may take over one script before it counts as having stopped answering.
 * A script takes well under a second; the margin is for a machine busy with other work.
 */
const SCRIPT_DEADLINE_MS = 30_000;

/** How long a fresh connection waits for the reference's answer after a script. */
const PROBE_DEADLINE_MS = 5_000;

/**
 * Runs `script` on the reference alone and returns its observations. When the reference died or
 * stopped answering meanwhile, restarts it and throws a {@link ReferenceCrashError} holding the
 * script.
 */
export async function runOnReference(
  reference: ReferenceTarget,
  script: Script,
  kinds: readonly ConnectionKind[] = DOM0_CONNECTIONS,
  deadlineMs = SCRIPT_DEADLINE_MS,
): Promise<StepObservation[]> {
  return runWatched(reference, script, kinds, deadlineMs, ReferenceCrashError);
}

// Runs `script` under the deadline; a server found dead or deaf then is restarted and reported.
async function runWatched(
  target: ReferenceTarget,
  script: Script,
  kinds: readonly ConnectionKind[],
  deadlineMs: number,
  Crash: typeof ServerCrashError,
): Promise<StepObservation[]> {
  const giveUp = new AbortController();
  const outcome = await settleWithin(runScript(target, script, kinds, giveUp.signal), deadlineMs);
  const failure =
    'timedOut' in outcome
      ? `it did not finish the script within ${deadlineMs} ms`
      : await target.failure(PROBE_DEADLINE_MS);
  if (failure !== undefined) {
    giveUp.abort();
    await target.restart();
    throw new Crash(target.name, failure, script);
  }
  if ('error' in outcome) throw outcome.error;
  if ('value' in outcome) return outcome.value;
  throw new Error('unreachable: a timed-out script is a failure');
}

/**
 * Runs `script` on both targets and throws a {@link DivergenceError} naming the first step whose
 * observations differ, with both sides' messages; a {@link ReferenceCrashError} when the reference
 * crashed instead (see {@link runOnReference}).
 */
export async function expectSameBehaviour(
  reference: ReferenceTarget,
  candidate: DifferentialTarget,
  script: Script,
  kinds: readonly ConnectionKind[] = DOM0_CONNECTIONS,
  deadlineMs = SCRIPT_DEADLINE_MS,
): Promise<void> {
  const expected = await runOnReference(reference, script, kinds, deadlineMs);
  const actual =
    'failure' in candidate
      ? await runWatched(
          candidate as ReferenceTarget,
          script,
          kinds,
          deadlineMs,
          CandidateCrashError,
        )
      : await runScript(candidate, script, kinds);
  const index = expected.findIndex((observation, i) => !isDeepStrictEqual(observation, actual[i]));
  if (index < 0) return;
  throw new DivergenceError(
    [
      `step ${index} differs: ${JSON.stringify(script[index])}`,
      `  ${reference.name}: ${JSON.stringify(expected[index])}`,
      `  ${candidate.name}: ${JSON.stringify(actual[index])}`,
    ].join('\n'),
  );
}

/** Options of {@link checkDifferential}. */
export interface DifferentialRun {
  runs: number;
  seed?: number;
  /** Longest script generated (default 25). */
  maxSteps?: number;
  /** Add a connection of an introduced guest domain (a ring for the C daemon). */
  guest?: boolean;
  /** How long a server may take over one script before it counts as crashed. */
  deadlineMs?: number;
  /** The scripts to try, instead of the generator's (tests of the harness itself). */
  scripts?: fc.Arbitrary<Script>;
}

/** What a differential check found. */
export interface DifferentialFinding {
  /**
   * `divergence`: the candidate answered a script differently from the reference.
   * `reference-crash`: the reference died or stopped answering on a script.
   * `candidate-crash`: the candidate did, when it can tell (see {@link ReferenceTarget.failure}).
   */
  kind: 'divergence' | 'reference-crash' | 'candidate-crash';
  /** The failing script as generated. */
  script: Script;
  /**
   * The script shrunk to one that still fails the same way (a crash: on a freshly started
   * reference each try); undefined when the failure did not recur on replay.
   */
  shrunk: Script | undefined;
  /** Both scripts, what happened, and a replayable test case, for a person to read. */
  report: string;
}

type FailureKind = DifferentialFinding['kind'];

const kindOf = (error: unknown): FailureKind | undefined =>
  error instanceof DivergenceError
    ? 'divergence'
    : error instanceof ReferenceCrashError
      ? 'reference-crash'
      : error instanceof CandidateCrashError
        ? 'candidate-crash'
        : undefined;

/**
 * Property check: random scripts behave identically on both targets. Resolves to `undefined` when
 * they all do, else to a {@link DifferentialFinding}.
 *
 * The search stops at the first failure, which is then shrunk to a script that still fails the
 * same way: by fast-check, then by dropping single steps. A divergence is shrunk against the two
 * targets (a try on which the reference crashes does not reproduce it); a crash of the reference
 * on the reference alone, restarted before every try, so that the shrunk script crashes a fresh
 * daemon and no try ever runs against a dead one.
 */
export async function checkDifferential(
  reference: ReferenceTarget,
  candidate: DifferentialTarget,
  run: DifferentialRun,
): Promise<DifferentialFinding | undefined> {
  const kinds = run.guest ? GUEST_CONNECTIONS : DOM0_CONNECTIONS;
  const scripts = run.scripts ?? scriptArbitrary(run.maxSteps ?? 25, run.guest);
  const search = await fc.check(
    fc.asyncProperty(scripts, (script) =>
      expectSameBehaviour(reference, candidate, script, kinds, run.deadlineMs),
    ),
    {
      numRuns: run.runs,
      endOnFailure: true,
      ...(run.seed === undefined ? {} : { seed: run.seed }),
    },
  );
  if (!search.failed) return undefined;
  const [script] = search.counterexample ?? [[]];
  const kind = kindOf(search.errorInstance);
  if (kind === undefined) throw search.errorInstance;

  // A server that cannot be restarted cannot be shrunk against: reported as found.
  const crashed = kind === 'reference-crash' ? reference : candidate;
  if (
    kind === 'candidate-crash' ||
    (kind === 'reference-crash' && reference.restartable === false)
  ) {
    return {
      kind,
      script,
      shrunk: undefined,
      report: [
        `The ${crashed.name} crashed on script ${search.numRuns} (seed ${search.seed}, path ${search.counterexamplePath}).`,
        describeFailure(search.errorInstance),
        `Script (${script.length} steps, not shrunk: the server cannot be restarted): ${JSON.stringify(script)}`,
      ].join('\n'),
    };
  }
  // A crash leaves a freshly restarted reference behind.
  let fresh = kind === 'reference-crash';
  let tries = 0;
  let reproduced: { script: Script; error: unknown } | undefined;
  const reproduces = async (attempt: Script): Promise<boolean> => {
    tries++;
    try {
      if (kind === 'reference-crash') {
        if (!fresh) await reference.restart();
        fresh = false;
        await runOnReference(reference, attempt, kinds);
      } else {
        await expectSameBehaviour(reference, candidate, attempt, kinds);
      }
      return false;
    } catch (error) {
      if (error instanceof ReferenceCrashError) fresh = true;
      if (kindOf(error) !== kind) return false;
      reproduced = { script: attempt, error };
      return true;
    }
  };
  await fc.check(
    fc.asyncProperty(scripts, async (attempt) => !(await reproduces(attempt))),
    { seed: search.seed, path: search.counterexamplePath ?? undefined, numRuns: 1 },
  );
  if (reproduced) await dropSteps(reproduced.script, reproduces);
  const finding = { kind, script, shrunk: reproduced?.script };
  const where = `script ${search.numRuns} (seed ${search.seed}, path ${search.counterexamplePath})`;
  const lines = [
    kind === 'reference-crash'
      ? `The ${reference.name} crashed on ${where}: a bug of the reference, not a divergence.`
      : `Divergence on ${where}.`,
    describeFailure(search.errorInstance),
    `Script as generated (${script.length} steps): ${JSON.stringify(script)}`,
  ];
  if (reproduced === undefined) {
    lines.push('It did not happen again when the script was replayed, so it was not shrunk.');
  } else {
    lines.push(
      `Shrunk to ${reproduced.script.length} steps in ${tries} tries` +
        `${kind === 'reference-crash' ? ', each on a freshly started daemon' : ''}:`,
      describeFailure(reproduced.error),
      'Replay:',
      formatReplay(reproduced.script, run.guest ?? false),
    );
  }
  return { ...finding, report: lines.join('\n') };
}

/** Drops single steps from the end backwards while the failure still reproduces. */
async function dropSteps(
  script: Script,
  reproduces: (attempt: Script) => Promise<boolean>,
): Promise<void> {
  let current = script;
  for (let i = current.length - 1; i >= 0 && current.length > 1; i--) {
    const attempt = current.toSpliced(i, 1);
    if (await reproduces(attempt)) current = attempt;
  }
}

function describeFailure(error: unknown): string {
  if (error instanceof ServerCrashError) return error.reason;
  return error instanceof Error ? error.message : String(error);
}
