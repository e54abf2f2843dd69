import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketEstimate, packedQuantiles, quantiles, unpack, ZERO_BUCKET } from './histogram.ts';

const QS = [0, 0.5, 0.9, 0.95, 0.99, 1];
const pack = (bucket: number, count: number) => (bucket + 10_000) * 2 ** 32 + count;

/** `percentile_cont` over every value of the histogram, each replaced by its bucket's estimate. */
function bruteForce(pairs: [number, number][], q: number): number | null {
  const values = pairs
    .filter(([, n]) => n > 0)
    .sort((a, b) => a[0] - b[0])
    .flatMap(([b, n]) => Array<number>(n).fill(bucketEstimate(b)));
  if (!values.length) return null;
  const rank = q * (values.length - 1);
  const lo = Math.floor(rank);
  return values[lo]! + (values[Math.ceil(rank)]! - values[lo]!) * (rank - lo);
}

const bucket = fc.oneof(fc.integer({ min: -200, max: 400 }), fc.constant(ZERO_BUCKET));

describe('packed histogram quantiles', () => {
  it('match percentile_cont over the bucket estimates, stored (ascending) layout', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(bucket, fc.integer({ min: 1, max: 40 })), { selector: ([b]) => b }),
        (pairs) => {
          const sorted = [...pairs].sort((a, b) => a[0] - b[0]);
          const text = sorted.map(([b, n]) => pack(b, n)).join(',');
          const got = packedQuantiles(text, QS);
          expect(got).toEqual(QS.map((q) => bruteForce(sorted, q)));
          expect(got).toEqual(quantiles(unpack(text), QS));
        },
      ),
    );
  });

  it('give the same answer for text not in the stored layout (unordered, repeated buckets)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(bucket, fc.integer({ min: 1, max: 40 }))), (pairs) => {
        const text = pairs.map(([b, n]) => pack(b, n)).join(',');
        expect(packedQuantiles(text, QS)).toEqual(QS.map((q) => bruteForce(pairs, q)));
      }),
    );
  });

  it('are null for an empty histogram, as text or as NULL', () => {
    expect(packedQuantiles('', [0.5])).toEqual([null]);
    expect(packedQuantiles(null, [0.5, 0.95])).toEqual([null, null]);
  });
});
