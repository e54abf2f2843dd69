import { ROLLUP_DIMENSIONS, ROLLUP_SUMS, type Rollup, type RollupGrain, rollupTable } from './tables.ts';

/**
 * SQL shared by the compactor, the backfill and the read paths: how raw `ai_events` rows become rollup rows, and how
 * hour rows become day rows. Every builder reads a CTE or table by name and returns a SELECT whose columns are the
 * rollup table's, in its order, so the same text fills a table and answers a read from raw rows.
 */

/** The columns of `ai_events` (as `e`) a rollup reads, under the names the builders below use. */
export const RAW_COLUMNS = `e.org_id, date_trunc('hour', e.created_at, 'UTC') AS bucket, e.created_at, e.id,
  e.model_name, coalesce(e.endpoint, '') AS endpoint, coalesce(e.service_name, '') AS service_name,
  coalesce(e.provider, '') AS provider, coalesce(e.user_id, '') AS user_id, e.success, e.fallback_used, e.input_tokens, e.output_tokens,
  e.cached_input_tokens, e.reasoning_tokens, e.cost_usd, e.cost_source, obs_hist_index(e.latency_ms) AS li,
  obs_hist_index(e.ttft_ms) AS ti, coalesce(e.error_code, 'unknown') AS error_code, e.error_message,
  coalesce(e.fallback_model, '') AS fallback_model, coalesce(e.fallback_reason, '') AS fallback_reason`;

const RAW_SUMS: Record<(typeof ROLLUP_SUMS)[number], string> = {
  calls: 'count(*)',
  errors: 'count(*) FILTER (WHERE NOT success)',
  fallbacks: 'count(*) FILTER (WHERE fallback_used)',
  input_tokens: 'coalesce(sum(input_tokens), 0)',
  output_tokens: 'coalesce(sum(output_tokens), 0)',
  cached_input_tokens: 'coalesce(sum(cached_input_tokens), 0)',
  reasoning_tokens: 'coalesce(sum(reasoning_tokens), 0)',
  cost_usd: 'coalesce(sum(cost_usd), 0)',
  unpriced_calls: "count(*) FILTER (WHERE cost_source = 'unpriced')",
  ttft_calls: 'count(ti)',
};

/** Bucket and count of a packed histogram element `v` (see the migration). */
export const unpackBucket = (v: string) => `((${v} >> 32)::integer - 10000)`;
export const unpackCount = (v: string) => `(${v} & 4294967295)`;

/**
 * Sums and packed histograms per `keys` over `from` (a CTE of RAW_COLUMNS rows, or rows of them unpivoted): the sums
 * in one pass, each histogram in one more that only counts per (key, bucket).
 */
function rawFigures(keys: readonly string[], from: string): string {
  const k = keys.join(', ');
  const hist = (column: string, index: string) =>
    `SELECT ${k}, array_agg(obs_hist_pack(${index}, n) ORDER BY ${index}) AS ${column}
      FROM (SELECT ${k}, ${index}, count(*) AS n FROM ${from} WHERE ${index} IS NOT NULL GROUP BY ${k}, ${index}) c
      GROUP BY ${k}`;
  return `SELECT ${keys.map((c) => `s.${c}`).join(', ')}, ${ROLLUP_SUMS.map((c) => `s.${c}`).join(', ')},
      coalesce(l.latency_hist, '{}') AS latency_hist, coalesce(t.ttft_hist, '{}') AS ttft_hist
    FROM (SELECT ${k}, ${ROLLUP_SUMS.map((c) => `${RAW_SUMS[c]} AS ${c}`).join(', ')} FROM ${from} GROUP BY ${k}) s
    LEFT JOIN (${hist('latency_hist', 'li')}) l USING (${k})
    LEFT JOIN (${hist('ttft_hist', 'ti')}) t USING (${k})`;
}

/** `from` unpivoted into (dim, value) rows, one per dimension. */
export const unpivotDimensions = (from: string) =>
  `(SELECT r.org_id, r.bucket, d.dim, d.value, r.success, r.fallback_used, r.input_tokens, r.output_tokens,
     r.cached_input_tokens, r.reasoning_tokens, r.cost_usd, r.cost_source, r.li, r.ti FROM ${from} r CROSS JOIN LATERAL (VALUES ${ROLLUP_DIMENSIONS.map(
       (d) => `('${d}', r.${d})`,
     ).join(', ')}) AS d(dim, value))`;

/** The key columns of each rollup (after `org_id`, `bucket` in the order the table has them). */
export const ROLLUP_KEYS: Record<Rollup, readonly string[]> = {
  ai_roll_org: ['org_id', 'bucket'],
  ai_roll_dim: ['org_id', 'dim', 'bucket', 'value'],
  ai_roll_error: ['org_id', 'bucket', 'error_code', 'model_name'],
  ai_roll_fallback: ['org_id', 'bucket', 'model_name', 'fallback_model', 'fallback_reason'],
};

/**
 * A rollup's hour rows computed from `raw` (a CTE of RAW_COLUMNS rows), columns in the table's order. `dimFrom`
 * names a CTE holding `unpivotDimensions(raw)` when the caller materialised it.
 */
export function rowsFromRaw(rollup: Rollup, raw: string, dimFrom?: string): string {
  const keys = ROLLUP_KEYS[rollup];
  switch (rollup) {
    case 'ai_roll_org':
      return rawFigures(keys, raw);
    case 'ai_roll_dim':
      return rawFigures(keys, dimFrom ?? `${unpivotDimensions(raw)} u`);
    case 'ai_roll_error':
      return `SELECT ${keys.join(', ')}, count(*) AS count, min(created_at) AS first_seen, max(created_at) AS last_seen,
          max(created_at) FILTER (WHERE error_message IS NOT NULL) AS message_at,
          (array_agg(error_message ORDER BY created_at DESC, id DESC) FILTER (WHERE error_message IS NOT NULL))[1] AS message
        FROM ${raw} WHERE NOT success GROUP BY ${keys.join(', ')}`;
    case 'ai_roll_fallback':
      return `SELECT ${keys.join(', ')}, count(*) AS count FROM ${raw} WHERE fallback_used GROUP BY ${keys.join(', ')}`;
  }
}

/**
 * Packed histograms merged per `keys` over `from` (rows carrying `column`): SELECT keys, merged AS column. Groups
 * whose histograms are all empty are missing (join with LEFT JOIN and coalesce to '{}').
 */
export function mergedHistogram(keys: readonly string[], from: string, column: string): string {
  const k = keys.join(', ');
  return `SELECT ${k}, array_agg(obs_hist_pack(b, n) ORDER BY b) AS ${column}
    FROM (SELECT ${k}, ${unpackBucket('v')} AS b, sum(${unpackCount('v')})::bigint AS n
          FROM ${from} CROSS JOIN LATERAL unnest(${column}) AS v GROUP BY ${k}, b) m
    GROUP BY ${k}`;
}

/**
 * A rollup's rows merged per `keys` over `from` (rows of the same rollup's shape, e.g. hour rows grouped into days):
 * `keys` may be expressions with aliases (`date_trunc(…) AS bucket`).
 */
export function mergedRows(rollup: Rollup, keys: readonly string[], from: string): string {
  const names = keys.map((k) => /\bAS (\w+)$/.exec(k)?.[1] ?? k);
  const k = keys.join(', ');
  const g = names.join(', ');
  switch (rollup) {
    case 'ai_roll_org':
    case 'ai_roll_dim': {
      const src = `(SELECT ${k}, ${ROLLUP_SUMS.join(', ')}, latency_hist, ttft_hist FROM ${from}) s`;
      const on = (t: string) => names.map((c) => `x.${c} = ${t}.${c}`).join(' AND ');
      return `SELECT ${names.map((c) => `x.${c}`).join(', ')}, ${ROLLUP_SUMS.map((c) => `x.${c}`).join(', ')},
          coalesce(l.latency_hist, '{}') AS latency_hist, coalesce(t.ttft_hist, '{}') AS ttft_hist
        FROM (SELECT ${g}, ${ROLLUP_SUMS.map((c) => `sum(${c}) AS ${c}`).join(', ')} FROM ${src} GROUP BY ${g}) x
        LEFT JOIN (${mergedHistogram(names, src, 'latency_hist')}) l ON ${on('l')}
        LEFT JOIN (${mergedHistogram(names, src, 'ttft_hist')}) t ON ${on('t')}`;
    }
    case 'ai_roll_error':
      return `SELECT ${g}, sum(count) AS count, min(first_seen) AS first_seen, max(last_seen) AS last_seen,
          max(message_at) AS message_at, (array_agg(message ORDER BY message_at DESC) FILTER (WHERE message IS NOT NULL))[1] AS message
        FROM (SELECT ${k}, count, first_seen, last_seen, message_at, message FROM ${from}) s GROUP BY ${g}`;
    case 'ai_roll_fallback':
      return `SELECT ${g}, sum(count) AS count FROM (SELECT ${k}, count FROM ${from}) s GROUP BY ${g}`;
  }
}

/** The key of a rollup's day rows made from its hour rows. */
export const dayKeys = (rollup: Rollup) =>
  ROLLUP_KEYS[rollup].map((k) => (k === 'bucket' ? "date_trunc('day', bucket, 'UTC') AS bucket" : k));

export const hourTable = (rollup: Rollup) => rollupTable(rollup, 'hour');
export const dayTable = (rollup: Rollup) => rollupTable(rollup, 'day');
export type { RollupGrain };
