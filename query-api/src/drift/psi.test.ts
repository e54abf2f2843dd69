import { describe, expect, it } from 'vitest';
import { binEdges, featureDrift, MIN_SAMPLES, PSI_FLOOR, psi, psiReading, shares } from './psi.ts';

describe('psi', () => {
  it('is Σ (c − b)·ln(c / b) over the bins', () => {
    // 50/50 → 80/20: 0.3·ln(1.6) + 0.3·ln(2.5) = 0.3·ln 4.
    expect(psi([0.5, 0.5], [0.8, 0.2])).toBeCloseTo(0.3 * Math.log(4), 12);
    expect(psi([0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1])).toBeCloseTo(
      0.3 * Math.log(4) + 0.1 * Math.log(1.5) + 0.1 * Math.log(1.5) + 0.3 * Math.log(4),
      12,
    );
  });

  it('is zero for identical distributions and symmetric in its arguments', () => {
    expect(psi([0.25, 0.25, 0.5], [0.25, 0.25, 0.5])).toBe(0);
    expect(psi([0.7, 0.3], [0.4, 0.6])).toBeCloseTo(psi([0.4, 0.6], [0.7, 0.3]), 12);
  });

  it('raises empty bins to the floor instead of dividing by zero', () => {
    // The third bin is empty in the baseline: it counts as 1e-4.
    const expected = -0.1 * Math.log(0.4 / 0.5) + (0.1 - 1e-4) * Math.log(0.1 / 1e-4);
    expect(PSI_FLOOR).toBe(1e-4);
    expect(psi([0.5, 0.5, 0], [0.5, 0.4, 0.1])).toBeCloseTo(expected, 12);
    // Empty in both windows: no contribution.
    expect(psi([0, 1], [0, 1])).toBe(0);
  });

  it('refuses bins that do not line up', () => {
    expect(() => psi([0.5, 0.5], [1])).toThrow(/2 baseline bins against 1 current/);
  });
});

describe('psiReading', () => {
  it('reads < 0.1 stable, 0.1–0.25 moderate, > 0.25 significant', () => {
    expect(psiReading(0)).toBe('stable');
    expect(psiReading(0.0999)).toBe('stable');
    expect(psiReading(0.1)).toBe('moderate');
    expect(psiReading(0.25)).toBe('moderate');
    expect(psiReading(0.2501)).toBe('significant');
    expect(psiReading(null)).toBe('insufficient_data');
  });
});

describe('binEdges and shares', () => {
  it('merges tied deciles and drops missing ones', () => {
    expect(binEdges([10, 10, 10, 10, 10, 20, 20, 20, 20])).toEqual([10, 20]);
    expect(binEdges([3, 1, 2, null])).toEqual([1, 2, 3]);
    expect(binEdges([])).toEqual([]);
  });

  it('turns counts into shares, and an empty window into zeros', () => {
    expect(shares([1, 3])).toEqual([0.25, 0.75]);
    expect(shares([0, 0])).toEqual([0, 0]);
  });
});

describe('featureDrift', () => {
  it(`needs ${MIN_SAMPLES} values in each window`, () => {
    const enough = featureDrift('latency_ms', [100], [50, 50], [80, 20]);
    expect(enough).toMatchObject({ baselineN: 100, currentN: 100, reading: 'significant' });
    expect(enough.psi).toBeCloseTo(0.3 * Math.log(4), 12);
    const few = featureDrift('latency_ms', [100], [50, 50], [79, 20]);
    expect(few).toMatchObject({ psi: null, reading: 'insufficient_data', currentN: 99 });
    expect(few.currentShares[0]).toBeCloseTo(79 / 99, 12);
  });
});
