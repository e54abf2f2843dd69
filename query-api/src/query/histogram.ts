/**
 * Percentiles from the rollups' log-scale histograms (`obs_hist_index()` in `migrations/0014_rollups.sql`): bucket i
 * holds values in (γ^(i−1), γ^i] with γ = (1 + α) / (1 − α), and its estimate 2γ^i / (γ + 1) is within α of every
 * value in it. The zero bucket holds values under 0.01 ms and is estimated as 0. The rollups store a histogram as
 * packed (bucket, count) pairs (`migrations/0024_narrow_rollups.sql`), ascending by bucket, only buckets with a
 * count. Reads receive them as comma-separated text (`array_to_string`) of non-negative integers: a month of hourly
 * rows holds ~75,000 pairs, which `elements` reads several times faster than the driver's array parser.
 */
export const RELATIVE_ACCURACY = 0.02;
export const ZERO_BUCKET = -9999;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const COUNT_SPAN = 2 ** 32;
const BUCKET_OFFSET = 10_000;

/** A histogram: bucket index → count. */
export type Histogram = Map<number, number>;

/** A packed histogram as the reads receive it: comma-separated text, '' or null when empty. */
export type PackedText = string | null | undefined;

const COMMA = 44;
const ZERO = 48;

/**
 * The packed elements of `packed`, as numbers: digits accumulated in place, so no string is made per element (exact:
 * packed values stay under 2^53, and so does every partial value).
 */
function elements(packed: PackedText): number[] {
  const out: number[] = [];
  if (!packed) return out;
  let v = 0;
  for (let i = 0; i < packed.length; i++) {
    const c = packed.charCodeAt(i);
    if (c === COMMA) {
      out.push(v);
      v = 0;
    } else v = v * 10 + (c - ZERO);
  }
  out.push(v);
  return out;
}

/** A packed histogram as a Histogram; null or empty as an empty one. */
export function unpack(packed: PackedText): Histogram {
  const h: Histogram = new Map();
  for (const v of elements(packed)) {
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
 * The q-quantiles of buckets ascending by index, each with a positive count, with `percentile_cont`'s definition
 * (linear interpolation between the values of ranks ⌊q(n−1)⌋ and ⌈q(n−1)⌉), each value replaced by its bucket's
 * estimate: as each estimate is within α of its value, the interpolation is within α of the exact percentile.
 */
function sortedQuantiles(indexes: number[], counts: number[], qs: readonly number[]): (number | null)[] {
  // Running totals, so the bucket of a rank is a binary search: the first whose running total exceeds the rank.
  const upTo: number[] = [];
  let total = 0;
  for (const n of counts) {
    total += n;
    upTo.push(total);
  }
  if (total === 0) return qs.map(() => null);
  const valueAtRank = (rank: number) => {
    let lo = 0;
    let hi = upTo.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (rank < upTo[mid]!) hi = mid;
      else lo = mid + 1;
    }
    return bucketEstimate(indexes[lo]!);
  };
  return qs.map((q) => {
    const rank = q * (total - 1);
    const lo = Math.floor(rank);
    const low = valueAtRank(lo);
    return low + (valueAtRank(Math.ceil(rank)) - low) * (rank - lo);
  });
}

/** The q-quantiles of a histogram (see `sortedQuantiles`); null for an empty histogram. */
export function quantiles(histogram: Histogram, qs: readonly number[]): (number | null)[] {
  const buckets = [...histogram].filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
  return sortedQuantiles(
    buckets.map(([i]) => i),
    buckets.map(([, n]) => n),
    qs,
  );
}

/**
 * The q-quantiles of a packed histogram, in one pass over its elements when they are as the rollups store them
 * (ascending buckets, positive counts); any other text goes through `unpack`. The same answer either way.
 */
export function packedQuantiles(packed: PackedText, qs: readonly number[]): (number | null)[] {
  const indexes: number[] = [];
  const counts: number[] = [];
  for (const v of elements(packed)) {
    const count = v % COUNT_SPAN;
    const bucket = (v - count) / COUNT_SPAN - BUCKET_OFFSET;
    if (!(count > 0) || (indexes.length > 0 && bucket <= indexes[indexes.length - 1]!))
      return quantiles(unpack(packed), qs);
    indexes.push(bucket);
    counts.push(count);
  }
  return sortedQuantiles(indexes, counts, qs);
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
