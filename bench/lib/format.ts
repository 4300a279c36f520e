/** Number formatting shared by the table and the chart. */

/** A rate with three significant digits and an SI suffix, e.g. `12.3k`. */
export function formatRate(rate: number): string {
  const scales: readonly [number, string][] = [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [scale, suffix] of scales) {
    if (Math.abs(rate) >= scale) return `${(rate / scale).toPrecision(3)}${suffix}`;
  }
  return rate.toPrecision(3);
}

/** A ratio such as `1.23×`: two decimals, or three significant digits below 0.1. */
export function formatRatio(ratio: number): string {
  return `${ratio >= 0.1 ? ratio.toFixed(2) : ratio.toPrecision(2)}×`;
}

/** A goal such as `≥ 1.50×`. */
export function formatGoal(goal: {
  readonly ratio: number;
  readonly direction: 'at-least' | 'at-most';
}): string {
  return `${goal.direction === 'at-least' ? '≥' : '≤'} ${formatRatio(goal.ratio)}`;
}

/** A duration such as CPU time per op, e.g. `12.3 µs`: three significant digits, a fitting unit. */
export function formatSeconds(seconds: number): string {
  const scales: readonly [number, string][] = [
    [1, 's'],
    [1e-3, 'ms'],
    [1e-6, 'µs'],
  ];
  for (const [scale, unit] of scales) {
    if (Math.abs(seconds) >= scale) return `${(seconds / scale).toPrecision(3)} ${unit}`;
  }
  return `${(seconds / 1e-9).toPrecision(3)} ns`;
}
