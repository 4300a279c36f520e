/** Order statistics for the handful of samples one benchmark pair produces. */

/** Summary of the per-pair ratios candidate/baseline. */
export interface RatioSummary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** One ratio per A/B pair, in run order. */
  readonly samples: readonly number[];
}

/** The median of a non-empty list (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * Ratios candidate/baseline of rates measured back to back. Pairing each candidate run with the
 * baseline run just before it cancels slow drifts of the machine (frequency, neighbours) that a
 * ratio of two medians taken over the whole run would absorb.
 */
export function pairedRatios(
  baseline: readonly number[],
  candidate: readonly number[],
): RatioSummary {
  if (baseline.length !== candidate.length || baseline.length === 0) {
    throw new RangeError(
      `need equal, non-zero sample counts (${baseline.length}, ${candidate.length})`,
    );
  }
  const samples = baseline.map((rate, i) => candidate[i]! / rate);
  return {
    median: median(samples),
    min: Math.min(...samples),
    max: Math.max(...samples),
    samples,
  };
}

/**
 * The median of each named figure over the runs that report it (the `extra` figures, or the CPU
 * time per op by process, of one side).
 */
export function medianOfEach(
  extras: readonly (Readonly<Record<string, number>> | undefined)[],
): Record<string, number> {
  const byName = new Map<string, number[]>();
  for (const extra of extras) {
    for (const [name, value] of Object.entries(extra ?? {})) {
      const values = byName.get(name) ?? [];
      values.push(value);
      byName.set(name, values);
    }
  }
  return Object.fromEntries([...byName].map(([name, values]) => [name, median(values)]));
}

/**
 * {@link pairedRatios} of each named figure that every run of both sides reports (e.g. the CPU
 * time per op of each process); figures some run lacks are left out.
 */
export function pairedRatiosOfEach(
  baseline: readonly (Readonly<Record<string, number>> | undefined)[],
  candidate: readonly (Readonly<Record<string, number>> | undefined)[],
): Record<string, RatioSummary> {
  const runs = [...baseline, ...candidate];
  const names = Object.keys(runs[0] ?? {}).filter((name) =>
    runs.every((figures) => figures !== undefined && name in figures),
  );
  return Object.fromEntries(
    names.map((name) => [
      name,
      pairedRatios(
        baseline.map((figures) => figures![name]!),
        candidate.map((figures) => figures![name]!),
      ),
    ]),
  );
}
