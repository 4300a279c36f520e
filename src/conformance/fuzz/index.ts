/**
 * Differential scripts between two xenstored servers: random scripts (fast-check), their runner,
 * and the check that shrinks a divergence or reports a crash. Used by `xenwire conformance --fuzz`
 * and the differential tests; it needs the fast-check package, so it is loaded on demand.
 */
export {
  CandidateCrashError,
  checkDifferential,
  type DifferentialFinding,
  type DifferentialRun,
  DivergenceError,
  expectSameBehaviour,
  ReferenceCrashError,
  runOnReference,
  ServerCrashError,
} from './differential.ts';
export { scriptArbitrary } from './generator.ts';
export { KNOWN_DIFFERENCES, type KnownDifference } from './known-differences.ts';
export {
  type DifferentialTarget,
  type ReferenceTarget,
  runScript,
  socketTarget,
} from './run-script.ts';
export type { Script, Step } from './script.ts';
