/** Which annotators stand out from the rest on a metric (robust z-score on the median). */

/** Indexes of values whose robust z-score (median / MAD) exceeds `threshold`; nulls are ignored. */
export function outlierIndexes(values: (number | null | undefined)[], threshold = 3.5): Set<number> {
  const present = values.map((v, i) => [v, i] as const).filter((pair): pair is readonly [number, number] => typeof pair[0] === "number" && Number.isFinite(pair[0]));
  const result = new Set<number>();
  if (present.length < 4) return result;
  const sorted = present.map(([v]) => v).sort((a, b) => a - b);
  const median = quantile(sorted, 0.5);
  const deviations = sorted.map((v) => Math.abs(v - median)).sort((a, b) => a - b);
  const mad = quantile(deviations, 0.5);
  if (mad === 0) {
    // Everyone agrees exactly except a few: anyone not at the median stands out.
    for (const [v, i] of present) if (v !== median) result.add(i);
    return result.size <= present.length / 4 ? result : new Set();
  }
  for (const [v, i] of present) {
    if ((0.6745 * Math.abs(v - median)) / mad > threshold) result.add(i);
  }
  return result;
}

export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

export function pct(value: number | null | undefined, digits = 0): string {
  return typeof value === "number" && Number.isFinite(value) ? `${(value * 100).toFixed(digits)}%` : "–";
}

export function num(value: number | null | undefined, digits = 2): string {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "–";
}
