import type { MeasuredPair, PairOutcome } from './outcome.ts';
import type { FloorMedium } from './types.ts';

/**
 * The id of the floor pair (`bench/floor.bench.ts`): blocking C ping-pong of xenstore-sized
 * frames between two processes, over a socket (its baseline) and over a ring page (its
 * candidate). No xenstore client and daemon can do better one round trip at a time.
 */
export const FLOOR_PAIR = 'floor';

/** The floor's round trips per second over each medium, in one condition. */
export type FloorRates = Readonly<Partial<Record<FloorMedium, number>>>;

/** The floor's median rates among `outcomes`, if the floor pair was measured. */
export function floorRates(outcomes: readonly PairOutcome[]): FloorRates {
  const floor = outcomes.find((o) => o.id === FLOOR_PAIR);
  if (floor?.status !== 'measured') return {};
  return { socket: floor.baseline.medianRate, ring: floor.candidate.medianRate };
}

/**
 * Each measured pair that names a floor, with both sides' median rates as fractions of the
 * floor's rate over their medium (in round trips, so an op of two round trips counts twice).
 * Outcomes without a floor, or whose floor is missing, are returned as they were.
 */
export function withFloorFractions(
  outcomes: readonly PairOutcome[],
  rates: FloorRates,
): PairOutcome[] {
  return outcomes.map((outcome) => {
    const { floor } = outcome;
    if (outcome.status !== 'measured' || !floor) return outcome;
    const floorRate = rates[floor.medium];
    const baselineFloorRate = rates[floor.baselineMedium ?? floor.medium];
    if (floorRate === undefined || baselineFloorRate === undefined) return outcome;
    const fraction = (side: MeasuredPair['baseline'], rate: number): number =>
      (side.medianRate * floor.roundTripsPerOp) / rate;
    return {
      ...outcome,
      ofFloor: {
        floorRate,
        baseline: fraction(outcome.baseline, baselineFloorRate),
        candidate: fraction(outcome.candidate, floorRate),
      },
    };
  });
}
