/**
 * `xenwire/conformance`: a conformance suite of xenstore semantics, runnable against any server
 * (`xenwire conformance`, or {@link runConformance}).
 *
 * @packageDocumentation
 */
export {
  AREAS,
  type Area,
  type Capability,
  type Check,
  CheckFailure,
  type CheckSpec,
  checks,
  type Level,
} from './check.ts';
export { CATALOGUE } from './checks/index.ts';
export { CheckConnection, type EventPair } from './connection.ts';
export {
  CheckContext,
  type ConformanceTarget,
  DEFAULT_GUEST_DOMIDS,
  DEFAULT_REPLY_TIMEOUT_MS,
  type Guest,
} from './context.ts';
export {
  BUILT_IN_EXPECTATIONS,
  conforms,
  type Expectations,
  ExpectationsError,
  type JudgedResult,
  type JudgedRun,
  judge,
  type KnownFailure,
  loadExpectations,
  type Summary,
  type Verdict,
  validateExpectations,
} from './expectations.ts';
export {
  type GuestDomains,
  type IntroduceArguments,
  ringGuests,
  socketTemplateGuests,
} from './guests.ts';
export { formatJson } from './report/json.ts';
export { formatJunit } from './report/junit.ts';
export { formatTap } from './report/tap.ts';
export {
  type CheckResult,
  type ConformanceRun,
  matchesPattern,
  type Outcome,
  type RunOptions,
  runConformance,
  SCRATCH_ROOT,
} from './runner.ts';
