/**
 * Percentiles from the rollups' log-scale histograms (`obs_hist_index()` in `migrations/0014_rollups.sql`): bucket i
 * holds values in (γ^(i−1), γ^i] with γ = (1 + α) / (1 − α), and its estimate 2γ^i / (γ + 1) is within α of every
 * value in it. The zero bucket holds values under 0.01 ms and is estimated as 0. The rollups store a histogram as
 * packed (bucket, count) pairs (`migrations/0024_narrow_rollups.sql`), which PostgreSQL sends as decimal strings.
 */
export const RELATIVE_ACCURACY = 0.02;
export const ZERO_BUCKET = -9999;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const COUNT_SPAN = 2 ** 32;
const BUCKET_OFFSET = 10_000;

/** A histogram: bucket index → count. */
export type Histogram = Map<number, number>;

/** A packed histogram (bigint[] as strings or numbers) as a Histogram; null or empty as an empty one. */
export function unpack(packed: readonly (string | number)[] | null | undefined): Histogram {
  const h: Histogram = new Map();
  for (const element of packed ?? []) {
    const v = Number(element);
    const count = v % COUNT_SPAN;
    const bucket = (v - count) / COUNT_SPAN - BUCKET_OFFSET;
    h.set(bucket, (h.get(bucket) ?? 0) + count);
  }
  return h;
}

export function bucketEstimate(index: number): number {
  return index === ZERO_BUCKET ? 0 : (2 * GAMMA ** index) / (GAMMA + 1);
}

/**
 * The q-quantiles of a histogram with `percentile_cont`'s definition (linear interpolation between the values of
 * ranks ⌊q(n−1)⌋ and ⌈q(n−1)⌉), each value replaced by its bucket's estimate: as each estimate is within α of its
 * value, the interpolation is within α of the exact percentile. Null for an empty histogram.
 */
export function quantiles(histogram: Histogram, qs: readonly number[]): (number | null)[] {
  const buckets = [...histogram].filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
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

/** `base` plus each of `add` and minus each of `subtract`, bucket by bucket. */
export function combine(
  base: Histogram,
  add: readonly Histogram[] = [],
  subtract: readonly Histogram[] = [],
): Histogram {
  const out: Histogram = new Map(base);
  for (const [sign, list] of [
    [1, add],
    [-1, subtract],
  ] as const)
    for (const h of list) for (const [i, n] of h) out.set(i, (out.get(i) ?? 0) + sign * n);
  return out;
}
