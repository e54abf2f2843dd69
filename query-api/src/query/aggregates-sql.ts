import type pg from 'pg';
import type { SqlStatement } from '../db/sql-statement.ts';

export const RANGES = {
  '1h': 3_600_000,
  '24h': 86_400_000,
  '7d': 604_800_000,
  '30d': 2_592_000_000,
} as const;
export type Range = keyof typeof RANGES;
export type Bucket = 'minute' | 'hour' | 'day';

export interface Window {
  orgId: string;
  from: Date;
  to: Date;
}

/** Series resolution: about 60–700 points whatever the window. */
export function bucketFor(window: Window): Bucket {
  const span = window.to.getTime() - window.from.getTime();
  if (span <= 2 * RANGES['1h']) return 'minute';
  if (span <= 8 * RANGES['24h']) return 'hour';
  return 'day';
}

const IN_WINDOW = 'org_id = $1 AND created_at >= $2 AND created_at < $3';
const windowValues = (w: Window) => [w.orgId, w.from, w.to];
const rate = (part: string) => `coalesce(${part}::float8 / nullif(count(*), 0), 0)`;

export function overviewTotalsQuery(w: Window): SqlStatement {
  return {
    text: `SELECT count(*)::int AS requests,
        count(*) FILTER (WHERE NOT success)::int AS errors,
        ${rate('count(*) FILTER (WHERE NOT success)')} AS error_rate,
        count(*) FILTER (WHERE fallback_used)::int AS fallbacks,
        ${rate('count(*) FILTER (WHERE fallback_used)')} AS fallback_rate,
        percentile_cont(ARRAY[0.5, 0.9, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms) AS latency,
        coalesce(sum(cost_usd), 0)::text AS cost_usd,
        count(*) FILTER (WHERE cost_source = 'unpriced')::int AS unpriced_calls,
        coalesce(sum(input_tokens), 0)::bigint AS input_tokens,
        coalesce(sum(output_tokens), 0)::bigint AS output_tokens
      FROM ai_events WHERE ${IN_WINDOW}`,
    values: windowValues(w),
  };
}

export function overviewSeriesQuery(w: Window, bucket: Bucket): SqlStatement {
  return {
    text: `SELECT date_trunc($4, created_at, 'UTC') AS bucket,
        count(*)::int AS requests,
        count(*) FILTER (WHERE NOT success)::int AS errors,
        count(*) FILTER (WHERE fallback_used)::int AS fallbacks,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_latency_ms
      FROM ai_events WHERE ${IN_WINDOW} GROUP BY 1 ORDER BY 1`,
    values: [...windowValues(w), bucket],
  };
}

export function modelsQuery(w: Window): SqlStatement {
  return {
    text: `SELECT model_name,
        count(*)::int AS calls,
        ${rate('count(*) FILTER (WHERE NOT success)')} AS error_rate,
        ${rate('count(*) FILTER (WHERE fallback_used)')} AS fallback_rate,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50_latency_ms,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_latency_ms,
        coalesce(sum(input_tokens), 0)::bigint AS input_tokens,
        coalesce(sum(output_tokens), 0)::bigint AS output_tokens,
        coalesce(sum(cost_usd), 0)::text AS cost_usd,
        count(*) FILTER (WHERE cost_source = 'unpriced')::int AS unpriced_calls
      FROM ai_events WHERE ${IN_WINDOW} GROUP BY model_name ORDER BY calls DESC, model_name LIMIT 500`,
    values: windowValues(w),
  };
}

export function errorsQuery(w: Window): SqlStatement {
  return {
    text: `WITH failed AS (SELECT * FROM ai_events WHERE ${IN_WINDOW} AND NOT success)
      SELECT coalesce(error_code, 'unknown') AS error_code,
        count(*)::int AS count,
        count(*)::float8 / (SELECT count(*) FROM failed) AS share,
        min(created_at) AS first_seen,
        max(created_at) AS last_seen,
        (array_agg(error_message ORDER BY created_at DESC) FILTER (WHERE error_message IS NOT NULL))[1] AS example_message,
        array_agg(DISTINCT model_name ORDER BY model_name) AS models
      FROM failed GROUP BY 1 ORDER BY count DESC, error_code LIMIT 50`,
    values: windowValues(w),
  };
}

export function fallbacksQuery(w: Window): SqlStatement {
  return {
    text: `WITH calls AS (
        SELECT model_name, count(*) AS calls FROM ai_events WHERE ${IN_WINDOW} GROUP BY model_name
      )
      SELECT e.model_name AS primary_model, e.fallback_model, e.fallback_reason,
        count(*)::int AS count,
        count(*)::float8 / max(calls.calls) AS rate
      FROM ai_events e JOIN calls USING (model_name)
      WHERE e.org_id = $1 AND e.created_at >= $2 AND e.created_at < $3 AND e.fallback_used
      GROUP BY 1, 2, 3 ORDER BY count DESC, primary_model LIMIT 200`,
    values: windowValues(w),
  };
}

export async function overview(pool: pg.Pool, w: Window) {
  const bucket = bucketFor(w);
  const [totals, series] = await Promise.all([
    pool.query(overviewTotalsQuery(w)),
    pool.query(overviewSeriesQuery(w, bucket)),
  ]);
  const { latency, input_tokens, output_tokens, ...rest } = totals.rows[0];
  const [p50, p90, p95, p99] = (latency as number[] | null) ?? [null, null, null, null];
  return {
    ...rest,
    latency_ms: { p50, p90, p95, p99 },
    input_tokens: Number(input_tokens),
    output_tokens: Number(output_tokens),
    bucket,
    series: series.rows,
  };
}

export async function models(pool: pg.Pool, w: Window) {
  const { rows } = await pool.query(modelsQuery(w));
  return rows.map((r) => ({
    ...r,
    input_tokens: Number(r.input_tokens),
    output_tokens: Number(r.output_tokens),
  }));
}

export async function errors(pool: pg.Pool, w: Window) {
  return (await pool.query(errorsQuery(w))).rows;
}

export async function fallbacks(pool: pg.Pool, w: Window) {
  return (await pool.query(fallbacksQuery(w))).rows;
}
