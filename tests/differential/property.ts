import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { scriptArbitrary } from './generator.ts';
import { formatReplay, type Script } from './script.ts';
import {
  type ConnectionKind,
  type DifferentialTarget,
  DOM0_CONNECTIONS,
  GUEST_CONNECTIONS,
  runScript,
} from './targets.ts';

/** Thrown when the two servers answered a script differently. */
export class DivergenceError extends Error {
  readonly code = 'EDIVERGE';
}

/**
 * Runs `script` on both targets and throws a {@link DivergenceError} naming the first step whose
 * observations differ, with both sides' messages.
 */
export async function expectSameBehaviour(
  reference: DifferentialTarget,
  candidate: DifferentialTarget,
  script: Script,
  kinds: readonly ConnectionKind[] = DOM0_CONNECTIONS,
): Promise<void> {
  const expected = await runScript(reference, script, kinds);
  const actual = await runScript(candidate, script, kinds);
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
  /** Longest script generated. */
  maxSteps: number;
  /** Add a connection of an introduced guest domain (a ring for the C daemon). */
  guest?: boolean;
}

/**
 * Property check: random scripts behave identically on both targets. Resolves to `undefined`
 * when they all do, else to a report holding the shrunk script as a replayable test case.
 */
export async function checkDifferential(
  reference: DifferentialTarget,
  candidate: DifferentialTarget,
  run: DifferentialRun,
): Promise<string | undefined> {
  const kinds = run.guest ? GUEST_CONNECTIONS : DOM0_CONNECTIONS;
  const details = await fc.check(
    fc.asyncProperty(scriptArbitrary(run.maxSteps, run.guest), (script) =>
      expectSameBehaviour(reference, candidate, script, kinds),
    ),
    { numRuns: run.runs, ...(run.seed === undefined ? {} : { seed: run.seed }) },
  );
  if (!details.failed) return undefined;
  const [script] = details.counterexample ?? [[]];
  return [
    `Divergence after ${details.numRuns} scripts (seed ${details.seed}, path ${details.counterexamplePath}).`,
    details.errorInstance instanceof Error
      ? details.errorInstance.message
      : String(details.errorInstance),
    'Replay:',
    formatReplay(script, run.guest ?? false),
  ].join('\n');
}
