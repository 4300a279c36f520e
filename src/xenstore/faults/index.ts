/**
 * Seeded, recorded fault injection between a xenstore client and its server: one plan
 * ({@link parseFaultSpec}) and one injector per connection ({@link FaultInjector}), shared by
 * `XenstoreServer` (`ServerOptions.faults`), `xenwire serve` and `xenwire proxy`.
 */
export {
  type FaultDirection,
  type FaultEnds,
  FaultInjector,
  type FaultRecord,
} from './injector.ts';
export {
  type FaultPlan,
  type FaultRange,
  type FaultSpec,
  FaultSpecError,
  type InjectRule,
  injectsFaults,
  parseFaultSpec,
  ruleMatches,
} from './plan.ts';
export { deriveSeed, SeededRandom } from './random.ts';
