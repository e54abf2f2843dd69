import { MAIN_ROLLUP, USER_ROLLUP } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { type Histogram, quantiles } from './histogram.ts';
import { type GroupedRow, groupedStatement, Params, sourceCtes } from './rollup-sql.ts';

export const RANGES = {
  '1h': 3_600_000,
  '24h': 86_400_000,
  '7d': 604_800_000,
  '30d': 2_592_000_000,
} as const;
export type Range = keyof typeof RANGES;
export type Bucket = 'minute' | 'hour' | 'day';

/** The longest window any aggregate accepts: a retention period's worth, with room. */
export const MAX_WINDOW_DAYS = 400;

export interface Window {
  orgId: string;
  from: Date;
  to: Date;
}

/** Series resolution of the overview: about 60–700 points whatever the window. */
export function bucketFor(window: Window): Bucket {
  const span = window.to.getTime() - window.from.getTime();
  if (span <= 2 * RANGES['1h']) return 'minute';
  if (span <= 8 * RANGES['24h']) return 'hour';
  return 'day';
}

const int = (v: string | number | null | undefined) => (v === null || v === undefined ? 0 : Number(v));
const rate = (part: number, whole: number) => (whole === 0 ? 0 : part / whole);

/** The figures every grouped answer shares, from one slot of `groupedStatement`. */
export function figures(row: GroupedRow) {
  const calls = int(row.calls);
  const errors = int(row.errors);
  const fallbacks = int(row.fallbacks);
  const [p50, p90, p95, p99] = quantiles(row.latency_hist as Histogram, [0.5, 0.9, 0.95, 0.99]);
  const [t50, t95] = quantiles(row.ttft_hist as Histogram, [0.5, 0.95]);
  return {
    calls,
    errors,
    error_rate: rate(errors, calls),
    fallbacks,
    fallback_rate: rate(fallbacks, calls),
    input_tokens: int(row.input_tokens),
    output_tokens: int(row.output_tokens),
    cached_input_tokens: int(row.cached_input_tokens),
    reasoning_tokens: int(row.reasoning_tokens),
    cost_usd: row.cost_usd ?? '0',
    unpriced_calls: int(row.unpriced_calls),
    ttft_calls: int(row.ttft_calls),
    latency_ms: { p50: p50 ?? null, p90: p90 ?? null, p95: p95 ?? null, p99: p99 ?? null },
    ttft_ms: { p50: t50 ?? null, p95: t95 ?? null },
  };
}

const EMPTY: GroupedRow = {
  slot: 1,
  g: null,
  calls: '0',
  errors: '0',
  fallbacks: '0',
  input_tokens: '0',
  output_tokens: '0',
  cached_input_tokens: '0',
  reasoning_tokens: '0',
  cost_usd: '0',
  unpriced_calls: '0',
  ttft_calls: '0',
  groups: '0',
  latency_hist: null,
  ttft_hist: null,
};

async function totals(pool: pg.Pool, w: Window) {
  const { rows } = await pool.query<GroupedRow>(groupedStatement({ ...w, group: "''", order: 'g' }));
  return figures(rows[0] ?? EMPTY);
}

export async function overview(pool: pg.Pool, w: Window) {
  const bucket = bucketFor(w);
  const interval = ({ minute: '1m', hour: '1h', day: '1d' } as const)[bucket];
  const [t, points] = await Promise.all([totals(pool, w), series(pool, w, interval)]);
  return {
    requests: t.calls,
    errors: t.errors,
    error_rate: t.error_rate,
    fallbacks: t.fallbacks,
    fallback_rate: t.fallback_rate,
    latency_ms: t.latency_ms,
    ttft_ms: t.ttft_ms,
    cost_usd: t.cost_usd,
    unpriced_calls: t.unpriced_calls,
    input_tokens: t.input_tokens,
    output_tokens: t.output_tokens,
    bucket,
    series: points,
  };
}

export async function models(pool: pg.Pool, w: Window) {
  const { rows } = await pool.query<GroupedRow>(
    groupedStatement({ ...w, group: 'model_name', order: 'calls DESC, g', limit: 500 }),
  );
  return rows
    .filter((r) => r.g !== null)
    .map((r) => {
      const f = figures(r);
      return {
        model_name: r.g as string,
        calls: f.calls,
        error_rate: f.error_rate,
        fallback_rate: f.fallback_rate,
        p50_latency_ms: f.latency_ms.p50,
        p95_latency_ms: f.latency_ms.p95,
        p95_ttft_ms: f.ttft_ms.p95,
        input_tokens: f.input_tokens,
        output_tokens: f.output_tokens,
        cost_usd: f.cost_usd,
        unpriced_calls: f.unpriced_calls,
      };
    });
}

/**
 * Top error codes from the rollups' `errors_by_code`; first/last seen and the newest message come from raw rows,
 * by the error-code index (a few probes per code, whatever the window).
 */
export function errorsQuery(w: Window) {
  const p = new Params();
  const ctes = sourceCtes(w, p);
  const [org, from, to] = [p.add(w.orgId), p.add(w.from), p.add(w.to)];
  const failed = `e.org_id = ${org} AND e.created_at >= ${from} AND e.created_at < ${to} AND NOT e.success`;
  // Rows of code c: by the error-code index; 'unknown' also stands for failures without a code.
  const newest = (select: string, order: 'ASC' | 'DESC', extra = '') =>
    `(SELECT ${select} FROM (
        (SELECT e.created_at, e.error_message FROM ai_events e
          WHERE ${failed} AND e.error_code = c.error_code${extra} ORDER BY e.created_at ${order} LIMIT 1)
        UNION ALL
        (SELECT e.created_at, e.error_message FROM ai_events e
          WHERE ${failed} AND c.error_code = 'unknown' AND e.error_code IS NULL${extra} ORDER BY e.created_at ${order} LIMIT 1)
      ) m ORDER BY m.created_at ${order} LIMIT 1)`;
  return {
    text: `WITH ${ctes},
      codes AS (
        SELECT e.key AS error_code, sum(e.value::bigint) AS count,
          array_agg(DISTINCT src.model_name ORDER BY src.model_name) AS models
        FROM src CROSS JOIN LATERAL jsonb_each_text(src.errors_by_code) AS e GROUP BY 1
      ),
      top AS (
        SELECT error_code, count, count::float8 / sum(count) OVER () AS share, models
        FROM codes ORDER BY count DESC, error_code LIMIT 50
      )
      SELECT c.error_code, c.count::int AS count, c.share,
        ${newest('m.created_at', 'ASC')} AS first_seen,
        ${newest('m.created_at', 'DESC')} AS last_seen,
        ${newest('m.error_message', 'DESC', ' AND e.error_message IS NOT NULL')} AS example_message,
        c.models
      FROM top c ORDER BY c.count DESC, c.error_code`,
    values: p.values,
  };
}

export async function errors(pool: pg.Pool, w: Window) {
  return (await pool.query(errorsQuery(w))).rows;
}

/** Fallbacks per primary model, fallback model and reason, from the rollups' `fallbacks_by`. */
export function fallbacksQuery(w: Window) {
  const p = new Params();
  return {
    text: `WITH ${sourceCtes(w, p)},
      calls AS (SELECT model_name, sum(calls) AS calls FROM src GROUP BY 1),
      fb AS (
        SELECT src.model_name, e.key, sum(e.value::bigint) AS count
        FROM src CROSS JOIN LATERAL jsonb_each_text(src.fallbacks_by) AS e GROUP BY 1, 2
      )
      SELECT fb.model_name AS primary_model, (fb.key::jsonb)->>1 AS fallback_model,
        (fb.key::jsonb)->>0 AS fallback_reason, fb.count::int AS count, fb.count::float8 / calls.calls AS rate
      FROM fb JOIN calls USING (model_name)
      ORDER BY fb.count DESC, primary_model, fallback_model, fallback_reason LIMIT 200`,
    values: p.values,
  };
}

export async function fallbacks(pool: pg.Pool, w: Window) {
  return (await pool.query(fallbacksQuery(w))).rows;
}

export const INTERVALS = { '1m': 60_000, '5m': 300_000, '1h': 3_600_000, '1d': 86_400_000 } as const;
export type Interval = keyof typeof INTERVALS;
/** The most points a series may have; a longer window needs a coarser interval. */
export const MAX_SERIES_POINTS = 1_500;

export function seriesPoints(w: Window, interval: Interval): number {
  const step = INTERVALS[interval];
  return Math.ceil(w.to.getTime() / step) - Math.floor(w.from.getTime() / step);
}

/** Minute series read raw rows (a window of at most 1,500 × 5 minutes), so their percentiles are exact. */
function rawSeriesQuery(w: Window, step: number, modelName: string | undefined) {
  const values: unknown[] = [w.orgId, w.from, w.to, `${step / 1000} seconds`];
  if (modelName !== undefined) values.push(modelName);
  return {
    text: `SELECT date_bin($4::interval, created_at, 'epoch'::timestamptz) AS bucket,
        count(*)::int AS requests, count(*) FILTER (WHERE NOT success)::int AS errors,
        count(*) FILTER (WHERE fallback_used)::int AS fallbacks,
        coalesce(sum(input_tokens), 0)::bigint AS input_tokens,
        coalesce(sum(output_tokens), 0)::bigint AS output_tokens,
        coalesce(sum(cost_usd), 0)::text AS cost_usd,
        count(*) FILTER (WHERE cost_source = 'unpriced')::int AS unpriced_calls,
        percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms) AS latency,
        percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY ttft_ms) AS ttft
      FROM ai_events WHERE org_id = $1 AND created_at >= $2 AND created_at < $3
        ${modelName !== undefined ? 'AND model_name = $5' : ''}
      GROUP BY 1`,
    values,
  };
}

export interface SeriesPoint {
  bucket: string;
  requests: number;
  errors: number;
  fallbacks: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: string;
  unpriced_calls: number;
  p50_latency_ms: number | null;
  p95_latency_ms: number | null;
  p99_latency_ms: number | null;
  p50_ttft_ms: number | null;
  p95_ttft_ms: number | null;
}

/**
 * One point per interval from the interval boundary at or before `from` to `to`, empty intervals included with
 * zeros (and null percentiles). 1m/5m from raw rows; 1h/1d from the rollups and raw rows at the ragged edges.
 */
export async function series(
  pool: pg.Pool,
  w: Window,
  interval: Interval,
  modelName?: string,
): Promise<SeriesPoint[]> {
  const step = INTERVALS[interval];
  const points = new Map<number, SeriesPoint>();
  if (step < INTERVALS['1h']) {
    const { rows } = await pool.query(rawSeriesQuery(w, step, modelName));
    for (const r of rows) {
      const [p50, p95, p99] = (r.latency as number[] | null) ?? [null, null, null];
      const [t50, t95] = (r.ttft as (number | null)[] | null) ?? [null, null];
      points.set((r.bucket as Date).getTime(), {
        bucket: (r.bucket as Date).toISOString(),
        requests: r.requests,
        errors: r.errors,
        fallbacks: r.fallbacks,
        input_tokens: Number(r.input_tokens),
        output_tokens: Number(r.output_tokens),
        cost_usd: r.cost_usd,
        unpriced_calls: r.unpriced_calls,
        p50_latency_ms: p50 ?? null,
        p95_latency_ms: p95 ?? null,
        p99_latency_ms: p99 ?? null,
        p50_ttft_ms: t50 ?? null,
        p95_ttft_ms: t95 ?? null,
      });
    }
  } else {
    const unit = interval === '1h' ? 'hour' : 'day';
    const { rows } = await pool.query<GroupedRow>(
      groupedStatement({
        ...w,
        modelName,
        useDays: interval === '1d',
        group: `date_trunc('${unit}', bucket, 'UTC')`,
        order: 'g',
      }),
    );
    for (const r of rows) points.set((r.g as Date).getTime(), seriesPoint(r.g as Date, figures(r)));
  }
  const out: SeriesPoint[] = [];
  for (let t = Math.floor(w.from.getTime() / step) * step; t < w.to.getTime(); t += step)
    out.push(points.get(t) ?? seriesPoint(new Date(t), figures(EMPTY)));
  return out;
}

function seriesPoint(bucket: Date, f: ReturnType<typeof figures>): SeriesPoint {
  return {
    bucket: bucket.toISOString(),
    requests: f.calls,
    errors: f.errors,
    fallbacks: f.fallbacks,
    input_tokens: f.input_tokens,
    output_tokens: f.output_tokens,
    cost_usd: f.cost_usd,
    unpriced_calls: f.unpriced_calls,
    p50_latency_ms: f.latency_ms.p50,
    p95_latency_ms: f.latency_ms.p95,
    p99_latency_ms: f.latency_ms.p99,
    p50_ttft_ms: f.ttft_ms.p50,
    p95_ttft_ms: f.ttft_ms.p95,
  };
}

export const BREAKDOWN_DIMENSIONS = [
  'model_name',
  'endpoint',
  'service_name',
  'user_id',
  'provider',
] as const;
export type BreakdownDimension = (typeof BREAKDOWN_DIMENSIONS)[number];

function breakdownRow(f: ReturnType<typeof figures>) {
  return {
    calls: f.calls,
    errors: f.errors,
    error_rate: f.error_rate,
    fallbacks: f.fallbacks,
    input_tokens: f.input_tokens,
    output_tokens: f.output_tokens,
    cost_usd: f.cost_usd,
    unpriced_calls: f.unpriced_calls,
    p95_latency_ms: f.latency_ms.p95,
    p95_ttft_ms: f.ttft_ms.p95,
  };
}

/**
 * Top `limit` values of a dimension by cost, then calls; `others` sums the rest; `totals` is every call of the window.
 * By `user_id`, calls without a user are in `totals` only (the per-user rollup holds calls with a user).
 */
export async function breakdown(pool: pg.Pool, w: Window, by: BreakdownDimension, limit: number) {
  const family = by === 'user_id' ? USER_ROLLUP : MAIN_ROLLUP;
  const [grouped, all] = await Promise.all([
    pool.query<GroupedRow>(
      groupedStatement({ ...w, family, group: by, order: 'cost_usd DESC, calls DESC, g', limit }),
    ),
    totals(pool, w),
  ]);
  const top = grouped.rows.filter((r) => r.slot <= limit);
  const rest = grouped.rows.find((r) => r.slot > limit);
  return {
    by,
    items: top.map((r) => ({ [by]: r.g === '' ? null : r.g, ...breakdownRow(figures(r)) })),
    others: { groups: int(rest?.groups), ...breakdownRow(figures(rest ?? EMPTY)) },
    totals: breakdownRow(all),
  };
}
