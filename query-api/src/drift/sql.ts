import type { SqlStatement } from '../db/sql-statement.ts';
import { BIN_QUANTILES, type FeatureDrift } from './psi.ts';
import { DRIFT_FEATURES, type DriftFeature } from './schema.ts';

/**
 * Each feature's value as float8, NULL where it does not apply: calls without token counts, and for cost the
 * unpriced calls (their cost is not a cost of zero). The same expressions make the edges and fill the bins.
 */
const VALUES = {
  latency_ms: 'latency_ms',
  input_tokens: 'input_tokens::float8',
  output_tokens: 'output_tokens::float8',
  cost_usd: "CASE WHEN cost_source <> 'unpriced' THEN cost_usd::float8 END",
} satisfies Record<DriftFeature, string>;

export function orgIds(orgId: string | null): SqlStatement {
  return { text: 'SELECT id FROM orgs WHERE ($1::text IS NULL OR id = $1) ORDER BY id', values: [orgId] };
}

/**
 * The org's models with calls since `since`, at most `limit`: a loose index scan of (org_id, model_name, created_at)
 * that hops from one model to the next and probes each for a recent call, so it reads two index entries per model
 * instead of every event.
 */
export function activeModels(orgId: string, since: Date, limit: number): SqlStatement {
  return {
    text: `WITH RECURSIVE models AS (
             (SELECT model_name FROM ai_events WHERE org_id = $1 ORDER BY model_name LIMIT 1)
             UNION ALL
             SELECT (SELECT e.model_name FROM ai_events e WHERE e.org_id = $1 AND e.model_name > models.model_name
                     ORDER BY e.model_name LIMIT 1)
             FROM models WHERE models.model_name IS NOT NULL
           )
           SELECT model_name FROM models
           WHERE model_name IS NOT NULL
             AND EXISTS (SELECT 1 FROM ai_events e WHERE e.org_id = $1 AND e.model_name = models.model_name
                         AND e.created_at >= $2)
           LIMIT $3`,
    values: [orgId, since, limit],
  };
}

export function modelsDoneOn(orgId: string, day: string): SqlStatement {
  return {
    text: 'SELECT DISTINCT model_name FROM model_drift WHERE org_id = $1 AND day = $2',
    values: [orgId, day],
  };
}

export interface Windows {
  baselineStart: Date;
  /** Also the current window's start. */
  baselineEnd: Date;
  currentEnd: Date;
}

/** The baseline's deciles of every feature, in one pass over the model's baseline rows (sorted by PostgreSQL). */
export function baselineQuantiles(orgId: string, model: string, w: Windows): SqlStatement {
  const columns = DRIFT_FEATURES.map(
    (f) => `percentile_disc($4::float8[]) WITHIN GROUP (ORDER BY ${VALUES[f]}) AS ${f}`,
  ).join(',\n             ');
  return {
    text: `SELECT ${columns}
           FROM ai_events
           WHERE org_id = $1 AND model_name = $2 AND created_at >= $3 AND created_at < $5`,
    values: [orgId, model, w.baselineStart, BIN_QUANTILES, w.baselineEnd],
  };
}

export interface BinCount {
  feature: DriftFeature;
  current: boolean;
  bin: number;
  count: number;
}

/**
 * Rows per feature × window × bin over both windows in one pass: `width_bucket` numbers the bins 0…k for k edges
 * (bin i holds edges[i-1] ≤ value < edges[i]), one grouping set per feature counts them, and a value that is NULL
 * for a feature falls in no bin of it. At most 2 × 4 × 10 groups, however many rows. (Measured against expanding each
 * row into four with a LATERAL VALUES: grouping sets hash each row once per feature without the per-row join.)
 */
export function binCounts(
  orgId: string,
  model: string,
  w: Windows,
  edges: Record<DriftFeature, number[]>,
): SqlStatement {
  const bins = DRIFT_FEATURES.map((f, i) => `width_bucket(${VALUES[f]}, $${6 + i}::float8[]) AS ${f}`);
  // GROUPING(…) has a bit per feature, set for those left out of the row's grouping set: one bit clear names it.
  const named = DRIFT_FEATURES.map(
    (f, i) => `WHEN ${(2 ** DRIFT_FEATURES.length - 1) ^ (2 ** (DRIFT_FEATURES.length - 1 - i))} THEN '${f}'`,
  );
  return {
    text: `SELECT CASE GROUPING(${DRIFT_FEATURES.join(', ')}) ${named.join(' ')} END AS feature, current,
             coalesce(${DRIFT_FEATURES.join(', ')}) AS bin, count(*)::float8 AS count
           FROM (
             SELECT created_at >= $4 AS current, ${bins.join(',\n               ')}
             FROM ai_events
             WHERE org_id = $1 AND model_name = $2 AND created_at >= $3 AND created_at < $5
           ) binned
           GROUP BY GROUPING SETS (${DRIFT_FEATURES.map((f) => `(current, ${f})`).join(', ')})
           HAVING coalesce(${DRIFT_FEATURES.join(', ')}) IS NOT NULL`,
    values: [
      orgId,
      model,
      w.baselineStart,
      w.baselineEnd,
      w.currentEnd,
      ...DRIFT_FEATURES.map((f) => edges[f]),
    ],
  };
}

/** Today's rows of one org × model, replacing any computed earlier the same day. */
export function upsertDrift(
  orgId: string,
  model: string,
  day: string,
  w: Windows,
  features: FeatureDrift[],
): SqlStatement {
  const rows = features.map((f) => ({
    feature: f.feature,
    psi: f.psi,
    reading: f.reading,
    bin_edges: f.edges,
    baseline_bins: f.baselineShares,
    current_bins: f.currentShares,
    baseline_n: f.baselineN,
    current_n: f.currentN,
  }));
  return {
    text: `INSERT INTO model_drift (org_id, model_name, feature, day, computed_at, window_start, window_end,
             baseline_start, baseline_end, psi, reading, bin_edges, baseline_bins, current_bins, baseline_n, current_n)
           SELECT $1, $2, r.feature, $3, now(), $5, $6, $4, $5, r.psi, r.reading, r.bin_edges, r.baseline_bins,
             r.current_bins, r.baseline_n, r.current_n
           FROM jsonb_to_recordset($7::jsonb) AS r(feature text, psi float8, reading text, bin_edges jsonb,
             baseline_bins jsonb, current_bins jsonb, baseline_n bigint, current_n bigint)
           ON CONFLICT (org_id, model_name, feature, day) DO UPDATE SET
             computed_at = EXCLUDED.computed_at, window_start = EXCLUDED.window_start,
             window_end = EXCLUDED.window_end, baseline_start = EXCLUDED.baseline_start,
             baseline_end = EXCLUDED.baseline_end, psi = EXCLUDED.psi, reading = EXCLUDED.reading,
             bin_edges = EXCLUDED.bin_edges, baseline_bins = EXCLUDED.baseline_bins,
             current_bins = EXCLUDED.current_bins, baseline_n = EXCLUDED.baseline_n, current_n = EXCLUDED.current_n`,
    values: [orgId, model, day, w.baselineStart, w.baselineEnd, w.currentEnd, JSON.stringify(rows)],
  };
}

/** The newest stored row of each model × feature computed in [from, to), for the API. */
export function latestDrift(orgId: string, from: Date, to: Date, model: string | null): SqlStatement {
  return {
    text: `SELECT DISTINCT ON (model_name, feature) model_name, feature, psi, reading, computed_at,
             window_start, window_end, baseline_start, baseline_end, baseline_n::float8 AS baseline_n,
             current_n::float8 AS current_n, bin_edges, baseline_bins, current_bins
           FROM model_drift
           WHERE org_id = $1 AND computed_at >= $2 AND computed_at < $3 AND ($4::text IS NULL OR model_name = $4)
           ORDER BY model_name, feature, computed_at DESC
           LIMIT 2000`,
    values: [orgId, from, to, model],
  };
}

/**
 * A psi_* rule's value: the newest PSI of the feature computed in the last `withinSeconds`, for the model, or the
 * largest of every model's newest when the rule names none. NULL (never fires) when nothing recent is readable.
 */
export function latestPsi(
  orgId: string,
  model: string | null,
  feature: string,
  withinSeconds: number,
): SqlStatement {
  return {
    text: `SELECT max(psi) AS value FROM (
             SELECT DISTINCT ON (model_name) psi FROM model_drift
             WHERE org_id = $1 AND ($2::text IS NULL OR model_name = $2) AND feature = $3
               AND computed_at > now() - make_interval(secs => $4)
             ORDER BY model_name, computed_at DESC
           ) latest`,
    values: [orgId, model, feature, withinSeconds],
  };
}
