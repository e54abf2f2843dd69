/**
 * Percentiles from the rollups' log-scale histograms (`obs_hist_index()` in `migrations/0014_rollups.sql`): bucket i
 * holds values in (γ^(i−1), γ^i] with γ = (1 + α) / (1 − α), and its estimate 2γ^i / (γ + 1) is within α of every
 * value in it. The zero bucket holds values under 0.01 ms and is estimated as 0.
 */
export const RELATIVE_ACCURACY = 0.02;
export const ZERO_BUCKET = -9999;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);

/** A merged histogram: bucket index (as the JSON key) → count. */
export type Histogram = Record<string, number | string>;

export function bucketEstimate(index: number): number {
  return index === ZERO_BUCKET ? 0 : (2 * GAMMA ** index) / (GAMMA + 1);
}

/**
 * The q-quantiles of a histogram with `percentile_cont`'s definition (linear interpolation between the values of
 * ranks ⌊q(n−1)⌋ and ⌈q(n−1)⌉), each value replaced by its bucket's estimate: as each estimate is within α of its
 * value, the interpolation is within α of the exact percentile. Null for an empty histogram.
 */
export function quantiles(histogram: Histogram | null | undefined, qs: readonly number[]): (number | null)[] {
  const buckets = Object.entries(histogram ?? {})
    .map(([index, n]) => [Number(index), Number(n)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => a[0] - b[0]);
  const total = buckets.reduce((s, [, n]) => s + n, 0);
  if (total === 0) return qs.map(() => null);
  const valueAtRank = (rank: number) => {
    let seen = 0;
    for (const [index, n] of buckets) {
      seen += n;
      if (rank < seen) return bucketEstimate(index);
    }
    return bucketEstimate(buckets[buckets.length - 1]![0]);
  };
  return qs.map((q) => {
    const rank = q * (total - 1);
    const lo = Math.floor(rank);
    const low = valueAtRank(lo);
    return low + (valueAtRank(Math.ceil(rank)) - low) * (rank - lo);
  });
}

/** Adds histograms bucket by bucket. */
export function mergeHistograms(histograms: readonly (Histogram | null | undefined)[]): Histogram {
  const merged: Record<string, number> = {};
  for (const h of histograms)
    for (const [index, n] of Object.entries(h ?? {})) merged[index] = (merged[index] ?? 0) + Number(n);
  return merged;
}
