import { ROLLUP_SUMS } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { combine, packedQuantiles, quantiles, unpack } from './histogram.ts';
import {
  backfillMark,
  type GroupedRow,
  groupedStatement,
  groupHistograms,
  groupSums,
  HISTOGRAMS_AS_TEXT,
  Params,
  sourceCtes,
} from './rollup-sql.ts';

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

/** A window with the backfill's mark, as every rollup statement takes it. */
type MarkedWindow = Window & { backfillBefore: Date | null };
const marked = async (pool: pg.Pool, w: Window): Promise<MarkedWindow> => ({
  ...w,
  backfillBefore: await backfillMark(pool),
});

/** Series resolution of the overview: about 60–700 points whatever the window. */
export function bucketFor(window: Window): Bucket {
  const span = window.to.getTime() - window.from.getTime();
  if (span <= 2 * RANGES['1h']) return 'minute';
  if (span <= 8 * RANGES['24h']) return 'hour';
  return 'day';
}

const int = (v: string | number | null | undefined) => (v === null || v === undefined ? 0 : Number(v));
const rate = (part: number, whole: number) => (whole === 0 ? 0 : part / whole);

type Sums = Omit<GroupedRow, 'g' | 'latency_hist' | 'ttft_hist'>;

/** The latency and TTFT percentiles every grouped answer gives. */
export const LATENCY_QUANTILES = [0.5, 0.9, 0.95, 0.99] as const;
export const TTFT_QUANTILES = [0.5, 0.95] as const;

/**
 * The figures every grouped answer shares, from one group's sums and its percentiles (`LATENCY_QUANTILES` of latency,
 * `TTFT_QUANTILES` of TTFT).
 */
export function figures(row: Sums, latency: (number | null)[], ttft: (number | null)[]) {
  const calls = int(row.calls);
  const errors = int(row.errors);
  const fallbacks = int(row.fallbacks);
  const [p50, p90, p95, p99] = latency;
  const [t50, t95] = ttft;
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

/** A grouped row's figures, from its packed histograms. */
export const rowFigures = (r: GroupedRow) =>
  figures(
    r,
    packedQuantiles(r.latency_hist, LATENCY_QUANTILES),
    packedQuantiles(r.ttft_hist, TTFT_QUANTILES),
  );

const EMPTY: GroupedRow = {
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
  latency_hist: null,
  ttft_hist: null,
};

async function totals(pool: pg.Pool, w: MarkedWindow) {
  const { rows } = await pool.query<GroupedRow>(groupedStatement({ ...w, group: "''" }));
  return rowFigures(rows[0] ?? EMPTY);
}

export async function overview(pool: pg.Pool, window: Window) {
  const w = await marked(pool, window);
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

/** Sums and merged histograms per value of a dimension over the window, from its `ai_roll_dim` rows. */
export function dimensionStatement(w: MarkedWindow, dim: BreakdownDimension) {
  const p = new Params();
  return {
    text: `WITH ${sourceCtes('src', 'ai_roll_dim', { ...w, dim }, p)}
      SELECT s.*, ${HISTOGRAMS_AS_TEXT}
      FROM (${groupSums('src', 'value')}) s LEFT JOIN (${groupHistograms('src', 'value')}) h USING (g)`,
    values: p.values,
  };
}

export async function models(pool: pg.Pool, w: Window) {
  const { rows } = await pool.query<GroupedRow>(dimensionStatement(await marked(pool, w), 'model_name'));
  return rows
    .sort((a, b) => int(b.calls) - int(a.calls) || String(a.g).localeCompare(String(b.g)))
    .slice(0, 500)
    .map((r) => {
      const f = rowFigures(r);
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
 * Top error codes with first/last seen and the newest message, all from the errors rollup (raw failing rows only at
 * the ragged edges and in hours not rolled up yet).
 */
export function errorsQuery(w: MarkedWindow) {
  const p = new Params();
  return {
    text: `WITH ${sourceCtes('src', 'ai_roll_error', w, p)},
      codes AS (
        SELECT error_code, sum(count) AS count, min(first_seen) AS first_seen, max(last_seen) AS last_seen,
          (array_agg(message ORDER BY message_at DESC) FILTER (WHERE message IS NOT NULL))[1] AS example_message,
          array_agg(DISTINCT model_name ORDER BY model_name) AS models
        FROM src GROUP BY 1
      )
      SELECT error_code, count::int AS count, count::float8 / sum(count) OVER () AS share, first_seen, last_seen,
        example_message, models
      FROM codes ORDER BY count DESC, error_code LIMIT 50`,
    values: p.values,
  };
}

export async function errors(pool: pg.Pool, w: Window) {
  return (await pool.query(errorsQuery(await marked(pool, w)))).rows;
}

/** Fallbacks per primary model, fallback model and reason, with the primary model's calls for the rate. */
export function fallbacksQuery(w: MarkedWindow) {
  const p = new Params();
  return {
    text: `WITH ${sourceCtes('fb', 'ai_roll_fallback', w, p)}, ${sourceCtes('calls', 'ai_roll_dim', { ...w, dim: 'model_name' }, p)},
      per_model AS (SELECT value AS model_name, sum(calls) AS calls FROM calls GROUP BY 1),
      counts AS (SELECT model_name, fallback_model, fallback_reason, sum(count) AS count FROM fb GROUP BY 1, 2, 3)
      SELECT c.model_name AS primary_model, nullif(c.fallback_model, '') AS fallback_model,
        nullif(c.fallback_reason, '') AS fallback_reason, c.count::int AS count, c.count::float8 / m.calls AS rate
      FROM counts c JOIN per_model m USING (model_name)
      ORDER BY c.count DESC, primary_model, fallback_model, fallback_reason LIMIT 200`,
    values: p.values,
  };
}

export async function fallbacks(pool: pg.Pool, w: Window) {
  return (await pool.query(fallbacksQuery(await marked(pool, w)))).rows;
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
        ...(await marked(pool, w)),
        modelName,
        useDays: interval === '1d',
        group: `date_trunc('${unit}', bucket, 'UTC')`,
      }),
    );
    for (const r of rows) points.set((r.g as Date).getTime(), seriesPoint(r.g as Date, rowFigures(r)));
  }
  const out: SeriesPoint[] = [];
  for (let t = Math.floor(w.from.getTime() / step) * step; t < w.to.getTime(); t += step)
    out.push(points.get(t) ?? seriesPoint(new Date(t), rowFigures(EMPTY)));
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
 * By `user_id`, calls without a user are in `totals` only. Only the top values' histograms are merged: the others'
 * are the totals' minus the top values' (and minus the calls without a user), so a breakdown over thousands of users
 * merges a handful of histograms.
 */
export async function breakdown(pool: pg.Pool, window: Window, by: BreakdownDimension, limit: number) {
  const w = await marked(pool, window);
  // Rank first, on calls and cost alone (an index-only scan of the dimension's rows), then the full figures and
  // histograms of the top values only: by user that is ten of thousands.
  const rank = new Params();
  const named = by === 'user_id' ? "value <> ''" : 'true';
  const { rows: ranked } = await pool.query<{ values: string[] | null; groups: number }>({
    text: `WITH ${sourceCtes('src', 'ai_roll_dim', { ...w, dim: by, materialized: false }, rank)},
      per AS (SELECT value, sum(cost_usd) AS cost, sum(calls) AS calls FROM src WHERE ${named} GROUP BY 1)
      SELECT (SELECT array_agg(value ORDER BY cost DESC, calls DESC, value) FROM (
          SELECT * FROM per ORDER BY cost DESC, calls DESC, value LIMIT ${rank.add(limit)}) top) AS values,
        (SELECT count(*)::int FROM per) AS groups`,
    values: rank.values,
  });
  const top = ranked[0]?.values ?? [];
  // The picked values' figures, the totals, and the others as the totals minus the picked values (every call has
  // one value of the dimension, '' for none, which by user counts in the totals only).
  const p = new Params();
  const picked = by === 'user_id' ? [...top, ''] : top;
  const sums = ROLLUP_SUMS.map((c) => `(t.${c}::numeric - coalesce(i.${c}, 0))::text AS ${c}`).join(', ');
  const { rows } = await pool.query<GroupedRow & { kind: 'item' | 'total' | 'others' }>({
    text: `WITH ${sourceCtes('tot', 'ai_roll_org', w, p)},
      ${sourceCtes('src', 'ai_roll_dim', { ...w, dim: by, values: picked }, p)},
      items AS (
        SELECT s.*, ${HISTOGRAMS_AS_TEXT}
        FROM (${groupSums('src', 'value')}) s LEFT JOIN (${groupHistograms('src', 'value')}) h USING (g)
      ),
      total AS (
        SELECT s.*, ${HISTOGRAMS_AS_TEXT}
        FROM (${groupSums('tot', "''")}) s LEFT JOIN (${groupHistograms('tot', "''")}) h USING (g)
      )
      SELECT 'item' AS kind, * FROM items
      UNION ALL SELECT 'total', * FROM total
      UNION ALL SELECT 'others', NULL, ${sums}, NULL, NULL
        FROM total t CROSS JOIN (SELECT ${ROLLUP_SUMS.map((c) => `sum(${c}::numeric) AS ${c}`).join(', ')} FROM items) i`,
    values: p.values,
  });
  const items = rows.filter((r) => r.kind === 'item');
  const total = rows.find((r) => r.kind === 'total') ?? EMPTY;
  const rest = rows.find((r) => r.kind === 'others') ?? EMPTY;
  const others = (column: 'latency_hist' | 'ttft_hist') =>
    combine(
      unpack(total[column]),
      [],
      items.map((r) => unpack(r[column])),
    );
  const byValue = new Map(items.map((r) => [r.g, r]));
  return {
    by,
    items: top.map((v) => ({
      [by]: v === '' ? null : v,
      ...breakdownRow(rowFigures(byValue.get(v) ?? EMPTY)),
    })),
    others: {
      groups: (ranked[0]?.groups ?? 0) - top.length,
      ...breakdownRow(
        figures(
          rest,
          quantiles(others('latency_hist'), LATENCY_QUANTILES),
          quantiles(others('ttft_hist'), TTFT_QUANTILES),
        ),
      ),
    },
    totals: breakdownRow(rowFigures(total)),
  };
}
