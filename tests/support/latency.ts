/** Latency samples in ms, summarised for a test's printed figures. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0 };
}

/** `n=200 p50 0.08 ms p99 0.31 ms max 0.52 ms` */
export function formatLatency(summary: LatencySummary): string {
  const ms = (value: number) => `${value.toFixed(2)} ms`;
  return `n=${summary.count} p50 ${ms(summary.p50)} p99 ${ms(summary.p99)} max ${ms(summary.max)}`;
}
