import type pg from 'pg';
import type { DriftBin, DriftFeature, DriftItem, DriftReading } from './schema.ts';
import { latestDrift } from './sql.ts';

interface Row {
  model_name: string;
  feature: DriftFeature;
  psi: number | null;
  reading: DriftReading;
  computed_at: Date;
  window_start: Date;
  window_end: Date;
  baseline_start: Date;
  baseline_end: Date;
  baseline_n: number;
  current_n: number;
  bin_edges: number[];
  baseline_bins: number[];
  current_bins: number[];
}

/** The bins as ranges: k edges make k + 1 bins, open at both ends. */
function bins(row: Row): DriftBin[] {
  return row.baseline_bins.map((share, i) => ({
    from: i === 0 ? null : row.bin_edges[i - 1]!,
    to: i === row.bin_edges.length ? null : row.bin_edges[i]!,
    baseline_share: share,
    current_share: row.current_bins[i] ?? 0,
  }));
}

/** The newest stored drift of each model × feature of the org computed in [from, to), optionally of one model. */
export async function readDrift(
  pool: pg.Pool,
  q: { orgId: string; from: Date; to: Date; model: string | null },
): Promise<DriftItem[]> {
  const { rows } = await pool.query<Row>(latestDrift(q.orgId, q.from, q.to, q.model));
  return rows.map((r) => ({
    model_name: r.model_name,
    feature: r.feature,
    psi: r.psi,
    reading: r.reading,
    computed_at: r.computed_at.toISOString(),
    window_start: r.window_start.toISOString(),
    window_end: r.window_end.toISOString(),
    baseline_start: r.baseline_start.toISOString(),
    baseline_end: r.baseline_end.toISOString(),
    baseline_n: r.baseline_n,
    current_n: r.current_n,
    bins: bins(r),
  }));
}
