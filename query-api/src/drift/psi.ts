import type { DriftFeature, DriftReading } from './schema.ts';

/** Bin edges are the baseline's deciles: 9 interior cut points, so at most 10 bins. */
export const BIN_QUANTILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/**
 * A bin empty in one window would make ln(c / b) infinite; its share is raised to this instead (not renormalised).
 * One empty bin against a 10 % bin then adds about 0.69, i.e. it alone reads "significant".
 */
export const PSI_FLOOR = 1e-4;

/** Fewer values than this in either window and the PSI is too noisy to read: `insufficient_data`. */
export const MIN_SAMPLES = 100;

/** The customary reading of a PSI: below 0.1 stable, 0.1–0.25 moderate, above 0.25 significant. */
export function psiReading(psi: number | null): DriftReading {
  if (psi === null) return 'insufficient_data';
  if (psi < 0.1) return 'stable';
  if (psi <= 0.25) return 'moderate';
  return 'significant';
}

/**
 * Ascending, duplicates merged: heavy ties (a latency floor, a fixed token count) make several deciles the same
 * value, and equal edges would only make empty bins.
 */
export function binEdges(quantiles: readonly (number | null)[]): number[] {
  const values = quantiles.filter((q): q is number => q !== null && Number.isFinite(q));
  return [...new Set(values)].sort((a, b) => a - b);
}

/** Each bin's share of the window's values (counts / total); all zeros for an empty window. */
export function shares(counts: readonly number[]): number[] {
  const total = counts.reduce((sum, c) => sum + c, 0);
  return counts.map((c) => (total === 0 ? 0 : c / total));
}

/** PSI = Σ (c − b) · ln(c / b) over the bins, with each share at least `floor`. */
export function psi(baseline: readonly number[], current: readonly number[], floor = PSI_FLOOR): number {
  if (baseline.length !== current.length) {
    throw new Error(`psi: ${baseline.length} baseline bins against ${current.length} current bins`);
  }
  let sum = 0;
  for (let i = 0; i < baseline.length; i++) {
    const b = Math.max(baseline[i]!, floor);
    const c = Math.max(current[i]!, floor);
    sum += (c - b) * Math.log(c / b);
  }
  return sum;
}

export interface FeatureDrift {
  feature: DriftFeature;
  psi: number | null;
  reading: DriftReading;
  edges: number[];
  baselineShares: number[];
  currentShares: number[];
  baselineN: number;
  currentN: number;
}

/** One feature's drift from its bin counts (bin i of `edges.length + 1`, as `width_bucket` numbers them). */
export function featureDrift(
  feature: DriftFeature,
  edges: number[],
  baselineCounts: readonly number[],
  currentCounts: readonly number[],
): FeatureDrift {
  const baselineN = baselineCounts.reduce((sum, c) => sum + c, 0);
  const currentN = currentCounts.reduce((sum, c) => sum + c, 0);
  const baselineShares = shares(baselineCounts);
  const currentShares = shares(currentCounts);
  const value =
    baselineN >= MIN_SAMPLES && currentN >= MIN_SAMPLES ? psi(baselineShares, currentShares) : null;
  return {
    feature,
    psi: value,
    reading: psiReading(value),
    edges,
    baselineShares,
    currentShares,
    baselineN,
    currentN,
  };
}
