import { MAIN_ROLLUP, ROLLUP_SUMS, type RollupFamily } from '@observatory/exporter-postgres';

/**
 * Reads over the rollups (`migrations/0014_rollups.sql`): a window is split into whole UTC days (daily table), whole
 * hours (hourly table) and the ragged edges (raw rows, aggregated to the rollups' shape here), and the not yet
 * compacted deltas of its whole hours are added. Everything is read in one statement, so the answer is exact at any
 * moment, whether or not the compactor has run: the compactor moves deltas in one transaction.
 */

const HOUR = 3_600_000;
const DAY = 86_400_000;
type Range = readonly [Date, Date];

export interface WindowParts {
  /** Whole UTC days, from the daily table. */
  days: Range | null;
  /** Whole hours outside `days`, from the hourly table. */
  hours: Range[];
  /** Partial hours at either end, from raw rows. */
  raw: Range[];
  /** Every whole hour of the window: where not-yet-compacted deltas count. */
  wholeHours: Range | null;
}

export function splitWindow(from: Date, to: Date, { useDays = true } = {}): WindowParts {
  const f = from.getTime();
  const t = to.getTime();
  const h0 = Math.ceil(f / HOUR) * HOUR;
  const h1 = Math.floor(t / HOUR) * HOUR;
  if (h0 >= h1) return { days: null, hours: [], raw: [[from, to]], wholeHours: null };
  const raw: Range[] = [];
  if (f < h0) raw.push([from, new Date(h0)]);
  if (h1 < t) raw.push([new Date(h1), to]);
  const wholeHours: Range = [new Date(h0), new Date(h1)];
  const d0 = Math.ceil(h0 / DAY) * DAY;
  const d1 = Math.floor(h1 / DAY) * DAY;
  if (!useDays || d0 >= d1) return { days: null, hours: [wholeHours], raw, wholeHours };
  const hours: Range[] = [];
  if (h0 < d0) hours.push([new Date(h0), new Date(d0)]);
  if (d1 < h1) hours.push([new Date(d1), new Date(h1)]);
  return { days: [new Date(d0), new Date(d1)], hours, raw, wholeHours };
}

/** Collects parameter values while a statement is built; `add` returns the placeholder. */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

export interface SourceOptions {
  family?: RollupFamily;
  orgId: string;
  from: Date;
  to: Date;
  /** False for hourly series: a daily row cannot be split into hours. */
  useDays?: boolean;
  /** Main family only. */
  modelName?: string | undefined;
}

const RAW_DIMENSIONS: Record<RollupFamily['name'], string[]> = {
  main: [
    'model_name',
    "coalesce(endpoint, '') AS endpoint",
    "coalesce(service_name, '') AS service_name",
    "coalesce(provider, '') AS provider",
  ],
  user: ['user_id'],
};

// Each count map's label per raw row, as the trigger computes it (NULL: the row adds nothing to that map).
const RAW_LABELS: Record<string, string> = {
  latency_hist: 'obs_hist_index(latency_ms)::text',
  ttft_hist: 'obs_hist_index(ttft_ms)::text',
  errors_by_code: "CASE WHEN NOT success THEN coalesce(error_code, 'unknown') END",
  fallbacks_by: 'CASE WHEN fallback_used THEN jsonb_build_array(fallback_reason, fallback_model)::text END',
};

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
  ttft_calls: 'count(ttft_ms)',
};

const rangeSql = (column: string, ranges: readonly Range[], p: Params) =>
  ranges.length === 0
    ? 'false'
    : ranges.map(([a, b]) => `(${column} >= ${p.add(a)} AND ${column} < ${p.add(b)})`).join(' OR ');

/**
 * Two CTEs (to follow `WITH`): `raw`, the edge rows, and `src`, every row of the window in the rollups' shape
 * (`bucket`, the family's dimensions, `ROLLUP_SUMS`, its count maps), from daily, hourly, delta and raw sources.
 */
export function sourceCtes(o: SourceOptions, p: Params): string {
  const f = o.family ?? MAIN_ROLLUP;
  const parts = splitWindow(o.from, o.to, { useDays: o.useDays ?? true });
  const org = p.add(o.orgId);
  const model =
    f === MAIN_ROLLUP && o.modelName !== undefined ? ` AND model_name = ${p.add(o.modelName)}` : '';
  const dims = f.dimensions.join(', ');
  const columns = ['bucket', ...f.dimensions, ...ROLLUP_SUMS, ...f.maps].join(', ');
  const compacted = (table: string, ranges: readonly Range[]) =>
    `SELECT ${columns} FROM ${table} WHERE org_id = ${org} AND (${rangeSql('bucket', ranges, p)})${model}`;
  const rawWhere = `org_id = ${org} AND (${rangeSql('created_at', parts.raw, p)})${model}${
    f.name === 'user' ? ' AND user_id IS NOT NULL' : ''
  }`;
  const key = ['bucket', ...f.dimensions].join(', ');
  return `raw AS MATERIALIZED (
      SELECT date_trunc('hour', created_at, 'UTC') AS bucket, ${RAW_DIMENSIONS[f.name].join(', ')}, success,
        fallback_used, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost_usd, cost_source,
        latency_ms, ttft_ms, error_code, fallback_reason, fallback_model
      FROM ai_events WHERE ${rawWhere}
    ),
    raw_sums AS (
      SELECT bucket, ${dims}, ${ROLLUP_SUMS.map((c) => `${RAW_SUMS[c]} AS ${c}`).join(', ')}
      FROM raw GROUP BY ${key}
    ),
    raw_labels AS (
      SELECT bucket, ${dims}, v.map, v.label, count(*) AS n
      FROM raw CROSS JOIN LATERAL (VALUES ${f.maps.map((m) => `('${m}', ${RAW_LABELS[m]})`).join(', ')}) AS v(map, label)
      WHERE v.label IS NOT NULL GROUP BY ${key}, v.map, v.label
    ),
    raw_maps AS (
      SELECT bucket, ${dims}, ${f.maps
        .map((m) => `coalesce(jsonb_object_agg(label, n) FILTER (WHERE map = '${m}'), '{}') AS ${m}`)
        .join(', ')}
      FROM raw_labels GROUP BY ${key}
    ),
    src AS MATERIALIZED (
      ${compacted(f.day, parts.days ? [parts.days] : [])}
      UNION ALL ${compacted(f.hour, parts.hours)}
      UNION ALL ${compacted(f.delta, parts.wholeHours ? [parts.wholeHours] : [])}
      UNION ALL SELECT ${columns} FROM raw_sums JOIN raw_maps USING (${key})
    )`;
}

export interface GroupedOptions extends SourceOptions {
  /** SQL over `src`'s columns naming the group. */
  group: string;
  /** ORDER BY over the per-group sums (`g`, `calls`, `cost_usd`, …) that ranks the groups. */
  order: string;
  /** Groups past this rank are summed into one `others` slot. */
  limit?: number;
}

export interface GroupedRow {
  slot: number;
  /** The group, null for the `others` slot. */
  g: string | Date | null;
  calls: string;
  errors: string;
  fallbacks: string;
  input_tokens: string;
  output_tokens: string;
  cached_input_tokens: string;
  reasoning_tokens: string;
  cost_usd: string;
  unpriced_calls: string;
  ttft_calls: string;
  /** How many groups the slot sums (1 except for `others`). */
  groups: string;
  latency_hist: Record<string, string> | null;
  ttft_hist: Record<string, string> | null;
}

/**
 * Sums and merged latency/TTFT histograms per group, ranked by `order`; with `limit`, slot `limit + 1` holds every
 * further group summed (`g` null). One row per slot, in rank order.
 */
export function groupedStatement(o: GroupedOptions): { text: string; values: unknown[] } {
  const p = new Params();
  const ctes = sourceCtes(o, p);
  const rank = `row_number() OVER (ORDER BY ${o.order})`;
  const slot = o.limit === undefined ? rank : `least(${rank}, ${p.add(o.limit + 1)})`;
  const isOthers = o.limit === undefined ? 'false' : `slot > ${p.add(o.limit)}`;
  const hist = (column: string, tag: string) =>
    `SELECT r.slot, '${tag}' AS h, e.key, sum(e.value::bigint) AS n
      FROM src JOIN ranked r ON r.g IS NOT DISTINCT FROM (${o.group})
      CROSS JOIN LATERAL jsonb_each_text(src.${column}) AS e GROUP BY r.slot, e.key`;
  return {
    text: `WITH ${ctes},
      per AS (
        SELECT (${o.group}) AS g, ${ROLLUP_SUMS.map((c) => `sum(${c}) AS ${c}`).join(', ')} FROM src GROUP BY 1
      ),
      ranked AS (SELECT per.*, ${slot} AS slot FROM per),
      hist AS (${hist('latency_hist', 'l')} UNION ALL ${hist('ttft_hist', 't')})
      SELECT slot, CASE WHEN ${isOthers} THEN NULL ELSE min(g) END AS g,
        ${ROLLUP_SUMS.map((c) => `sum(${c})::text AS ${c}`).join(', ')}, count(*)::text AS groups,
        (SELECT jsonb_object_agg(key, n) FROM hist WHERE hist.slot = ranked.slot AND h = 'l') AS latency_hist,
        (SELECT jsonb_object_agg(key, n) FROM hist WHERE hist.slot = ranked.slot AND h = 't') AS ttft_hist
      FROM ranked GROUP BY slot ORDER BY slot`,
    values: p.values,
  };
}
