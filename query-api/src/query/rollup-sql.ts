import {
  mergedHistogram,
  RAW_COLUMNS,
  ROLLUP_SUMS,
  type Rollup,
  type RollupDimension,
  rollupTable,
  rowsFromRaw,
} from '@observatory/exporter-postgres';
import type pg from 'pg';

/**
 * Reads over the narrow rollups (`migrations/0024_narrow_rollups.sql`). A window is split into whole UTC days (day
 * table), whole hours (hour table) and the ragged edges (raw rows, aggregated to the rollup's shape here); raw rows
 * also stand in for events still pending (not yet added by the compactor) and for everything before the backfill's
 * mark. All in one statement, so the answer is exact at any moment whether or not the compactor or the backfill has
 * run.
 */

const HOUR = 3_600_000;
const DAY = 86_400_000;
type Range = readonly [Date, Date];

/** Part of one hour, with the whole hour it lies in. */
export interface PartialHour {
  range: Range;
  hour: Range;
}

export interface WindowParts {
  /** Whole UTC days, from the day table. */
  days: Range | null;
  /** Whole hours outside `days`, from the hour table. */
  hours: Range[];
  /** Partial hours at either end, each within one hour: raw rows, or their hour's row when it holds nothing else. */
  raw: PartialHour[];
  /** Every whole hour of the window: where pending events are looked for. */
  wholeHours: Range | null;
}

const partialHour = (a: number, b: number): PartialHour => {
  const hour = Math.floor(a / HOUR) * HOUR;
  return { range: [new Date(a), new Date(b)], hour: [new Date(hour), new Date(hour + HOUR)] };
};

export function splitWindow(from: Date, to: Date, { useDays = true } = {}): WindowParts {
  const f = from.getTime();
  const t = to.getTime();
  const h0 = Math.ceil(f / HOUR) * HOUR;
  const h1 = Math.floor(t / HOUR) * HOUR;
  if (h0 >= h1) {
    // No whole hour: the window is inside one hour, or straddles the boundary h0 between two.
    const raw =
      f >= t ? [] : h0 > f && h0 < t ? [partialHour(f, h0), partialHour(h0, t)] : [partialHour(f, t)];
    return { days: null, hours: [], raw, wholeHours: null };
  }
  const raw: PartialHour[] = [];
  if (f < h0) raw.push(partialHour(f, h0));
  if (h1 < t) raw.push(partialHour(h1, t));
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
  orgId: string;
  from: Date;
  to: Date;
  /** False for hourly series: a day row cannot be split into hours. */
  useDays?: boolean;
  /** Only calls of this model (org and dimension sources: read from the model_name rows). */
  modelName?: string | undefined;
  /** The backfill's mark (`backfillMark()`): raw rows before it; null once the backfill is done. */
  backfillBefore: Date | null;
  /** Dimension sources: only these values. */
  values?: string[];
  /**
   * False: the source is inlined into each use, so a use reading a few columns scans an index holding just those
   * (`ai_roll_dim_*_rank`); true (default): computed once for several uses.
   */
  materialized?: boolean;
}

/**
 * The backfill's mark, read on its own before a statement: as a parameter it lets the planner prune partitions (as a
 * sub-select the same read took ten times as long). Reading it apart is safe: a backfill step moves it back only
 * after writing the rollup rows of the day it passes, so an older mark only makes a read take raw rows where rollups
 * would have served.
 */
export async function backfillMark(pool: pg.Pool): Promise<Date | null> {
  const { rows } = await pool.query<{ f: Date | number }>('SELECT backfill_before AS f FROM ai_rollup_state');
  const f = rows[0]?.f;
  return f instanceof Date ? f : null;
}

/** The columns a source yields per rollup (after `bucket`), in table order. */
const FIGURES = [...ROLLUP_SUMS, 'latency_hist', 'ttft_hist'];
const COLUMNS: Record<Rollup, string[]> = {
  ai_roll_org: FIGURES,
  ai_roll_dim: ['value', ...FIGURES],
  ai_roll_error: ['error_code', 'model_name', 'count', 'first_seen', 'last_seen', 'message_at', 'message'],
  ai_roll_fallback: ['model_name', 'fallback_model', 'fallback_reason', 'count'],
};

const rangeSql = (column: string, ranges: readonly Range[], p: Params) =>
  ranges.length === 0
    ? 'false'
    : ranges.map(([a, b]) => `(${column} >= ${p.add(a)} AND ${column} < ${p.add(b)})`).join(' OR ');

/**
 * CTEs (to follow `WITH`, every name prefixed by `name`) ending in `${name}`: every row of the window in the rollup's
 * shape (`bucket` and COLUMNS), from day, hour and raw sources. `dim` picks the dimension of `ai_roll_dim`.
 */
export function sourceCtes(
  name: string,
  rollup: Rollup,
  o: SourceOptions & { dim?: RollupDimension },
  p: Params,
): string {
  const parts = splitWindow(o.from, o.to, { useDays: o.useDays ?? true });
  const org = p.add(o.orgId);
  const model = o.modelName === undefined ? undefined : p.add(o.modelName);
  // By model: the org's figures are the model's model_name rows.
  const table = model !== undefined && rollup === 'ai_roll_org' ? 'ai_roll_dim' : rollup;
  const dim = table === 'ai_roll_dim' ? (model !== undefined ? 'model_name' : o.dim) : undefined;
  const only = o.values && dim ? p.add(o.values) : undefined;
  const tableFilter = [
    dim ? ` AND t.dim = ${p.add(dim)}` : '',
    only ? ` AND t.value = ANY(${only})` : '',
    model !== undefined
      ? table === 'ai_roll_dim'
        ? ` AND t.value = ${model}`
        : ` AND t.model_name = ${model}`
      : '',
  ].join('');
  const columns = COLUMNS[rollup].map((c) => `t.${c}`).join(', ');
  const [h0, h1] = parts.wholeHours ?? [o.from, o.from];
  const [ph0, ph1] = [p.add(h0), p.add(h1)];
  const n = (cte: string) => `${name}_${cte}`;
  const rawModel = [
    model !== undefined ? ` AND e.model_name = ${model}` : '',
    only ? ` AND coalesce(e.${dim}, '') = ANY(${only})` : '',
  ].join('');
  const raw = (where: string, from = 'ai_events e') =>
    `SELECT ${RAW_COLUMNS} FROM ${from} WHERE e.org_id = ${org}${rawModel} AND ${where}`;
  const fromRaw =
    rollup === 'ai_roll_dim'
      ? `SELECT bucket, ${COLUMNS[rollup].join(', ')} FROM (${rowsFromRaw(
          rollup,
          n('raw'),
          `(SELECT r.*, '${dim}' AS dim, r.${dim} AS value FROM ${n('raw')} r) u`,
        )}) x`
      : `SELECT bucket, ${COLUMNS[rollup].join(', ')} FROM (${rowsFromRaw(rollup, n('raw'))}) x`;
  const mark = `${p.add(o.backfillBefore ?? '-infinity')}::timestamptz`;
  // A partial hour is read from its hour's rollup row (and pending events) when the org has no event in the rest of
  // that hour: then the row sums exactly the partial hour's events. A window ending now nearly always qualifies, and
  // saves aggregating up to an hour of raw rows. Decided inside the statement (each EXISTS runs once), so the answer
  // stays exact whatever commits meanwhile.
  const edges = parts.raw.map(({ range: [a, b], hour: [hs, he] }) => {
    const [pa, pb, phs, phe] = [p.add(a), p.add(b), p.add(hs), p.add(he)];
    const none = (x: string, y: string) =>
      `NOT EXISTS (SELECT 1 FROM ai_events o WHERE o.org_id = ${org} AND o.created_at >= ${x} AND o.created_at < ${y})`;
    const rest = [hs < a ? none(phs, pa) : '', b < he ? none(pb, phe) : ''].filter(Boolean);
    const whole = `(${[`${phs}::timestamptz >= ${mark}`, ...rest].join(' AND ')})`;
    return { range: `e.created_at >= ${pa} AND e.created_at < ${pb}`, hour: [phs, phe] as const, whole };
  });
  const pendingHours = [
    `(p.created_at >= greatest(${ph0}, ${mark}) AND p.created_at < ${ph1})`,
    ...edges.map((e) => `(${e.whole} AND p.created_at >= ${e.hour[0]} AND p.created_at < ${e.hour[1]})`),
  ].join(' OR ');
  // One scan per range (not an OR of them), so each can be an index-only scan.
  const rollupRows = (grain: 'day' | 'hour', where: string) =>
    `SELECT t.bucket, ${columns} FROM ${rollupTable(table, grain)} t
      WHERE t.org_id = ${org}${tableFilter} AND (${where}) AND t.bucket >= ${mark}`;
  return `${n('raw')} AS MATERIALIZED (
      ${[
        ...edges.map((e) => raw(`${e.range} AND NOT ${e.whole}`)),
        raw(`e.created_at >= ${ph0} AND e.created_at < least(${ph1}, ${mark})`),
        raw(
          `p.org_id = ${org} AND (${pendingHours})`,
          'ai_rollup_pending p JOIN ai_events e ON e.org_id = p.org_id AND e.created_at = p.created_at AND e.id = p.id',
        ),
      ].join('\n      UNION ALL ')}
    ),
    ${name} AS ${o.materialized === false ? 'NOT ' : ''}MATERIALIZED (
      ${rollupRows('day', rangeSql('t.bucket', parts.days ? [parts.days] : [], p))}
      ${parts.hours.map((range) => `UNION ALL ${rollupRows('hour', rangeSql('t.bucket', [range], p))}`).join('\n')}
      ${edges.map((e) => `UNION ALL ${rollupRows('hour', `t.bucket = ${e.hour[0]} AND ${e.whole}`)}`).join('\n')}
      UNION ALL ${fromRaw}
    )`;
}

/** Per-group sums over a source (`g` the group), as text. */
export const groupSums = (source: string, group: string) =>
  `SELECT (${group}) AS g, ${ROLLUP_SUMS.map((c) => `sum(${c})::text AS ${c}`).join(', ')}
   FROM ${source} GROUP BY 1`;

/**
 * Per-group merged latency and TTFT histograms over a source, joinable on `g`. A group of one row (an hour of an
 * hourly series) takes its stored arrays as they are; only groups of several rows are merged.
 */
export const groupHistograms = (source: string, group: string) => {
  const rows = `(SELECT (${group}) AS g, latency_hist, ttft_hist FROM ${source}) s`;
  const several = `(SELECT * FROM ${rows} WHERE g IN (SELECT g FROM ${rows} GROUP BY g HAVING count(*) > 1)) m`;
  return `SELECT g, min(latency_hist) AS latency_hist, min(ttft_hist) AS ttft_hist FROM ${rows}
      GROUP BY g HAVING count(*) = 1
    UNION ALL
    SELECT g, l.latency_hist, t.ttft_hist
    FROM (SELECT DISTINCT g FROM ${several}) k
    LEFT JOIN (${mergedHistogram(['g'], several, 'latency_hist')}) l USING (g)
    LEFT JOIN (${mergedHistogram(['g'], several, 'ttft_hist')}) t USING (g)`;
};

/** The merged histograms of a `groupHistograms` subquery (as `h`), as the text `histogram.ts` parses. */
export const HISTOGRAMS_AS_TEXT = `array_to_string(h.latency_hist, ',') AS latency_hist,
  array_to_string(h.ttft_hist, ',') AS ttft_hist`;

export interface GroupedRow {
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
  /** Packed histograms as comma-separated text (see `histogram.ts`). */
  latency_hist: string | null;
  ttft_hist: string | null;
}

/** Sums and merged histograms of the org's calls (or one model's) per group of `group` over the window. */
export function groupedStatement(o: SourceOptions & { group: string }): { text: string; values: unknown[] } {
  const p = new Params();
  return {
    text: `WITH ${sourceCtes('src', 'ai_roll_org', o, p)}
      SELECT s.*, ${HISTOGRAMS_AS_TEXT}
      FROM (${groupSums('src', o.group)}) s LEFT JOIN (${groupHistograms('src', o.group)}) h USING (g)
      ORDER BY g`,
    values: p.values,
  };
}
