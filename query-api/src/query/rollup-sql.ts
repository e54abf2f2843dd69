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

/** Part of one hour or one UTC day (`range`), with that whole hour or day (`whole`). */
export interface Partial {
  range: Range;
  whole: Range;
}

/** A part of the window that is not whole days: whole hours and partial hours at its ends. */
export interface Piece {
  range: Range;
  /** The UTC day holding the piece, whose day row may stand in for it; null without days (hourly series). */
  day: Range | null;
  /** Whole hours, from the hour table. */
  hours: Range | null;
  /** Partial hours at either end, each inside one hour. */
  edges: Partial[];
}

export interface WindowParts {
  /** Whole UTC days, from the day table. */
  days: Range | null;
  /** The rest: with days, the partial day at either end (each inside one day); without, the whole window. */
  pieces: Piece[];
  /** Every whole hour of the window (days included), or null. */
  wholeHours: Range | null;
}

const partial = (a: number, b: number, unit: number): Partial => {
  const start = Math.floor(a / unit) * unit;
  return { range: [new Date(a), new Date(b)], whole: [new Date(start), new Date(start + unit)] };
};

function hourParts(a: number, b: number): Pick<Piece, 'hours' | 'edges'> {
  const h0 = Math.ceil(a / HOUR) * HOUR;
  const h1 = Math.floor(b / HOUR) * HOUR;
  if (h0 >= h1) {
    // No whole hour: inside one hour, or straddling the boundary h0 between two.
    const edges =
      a >= b ? [] : h0 > a && h0 < b ? [partial(a, h0, HOUR), partial(h0, b, HOUR)] : [partial(a, b, HOUR)];
    return { hours: null, edges };
  }
  const edges: Partial[] = [];
  if (a < h0) edges.push(partial(a, h0, HOUR));
  if (h1 < b) edges.push(partial(h1, b, HOUR));
  return { hours: [new Date(h0), new Date(h1)], edges };
}

const dayPiece = (a: number, b: number): Piece => ({
  range: [new Date(a), new Date(b)],
  day: partial(a, b, DAY).whole,
  ...hourParts(a, b),
});

export function splitWindow(from: Date, to: Date, { useDays = true } = {}): WindowParts {
  const f = from.getTime();
  const t = to.getTime();
  const h0 = Math.ceil(f / HOUR) * HOUR;
  const h1 = Math.floor(t / HOUR) * HOUR;
  const wholeHours: Range | null = h0 < h1 ? [new Date(h0), new Date(h1)] : null;
  if (!useDays)
    return {
      days: null,
      pieces: f < t ? [{ range: [from, to], day: null, ...hourParts(f, t) }] : [],
      wholeHours,
    };
  const d0 = Math.ceil(f / DAY) * DAY;
  const d1 = Math.floor(t / DAY) * DAY;
  // Inside one day.
  if (d0 > d1) return { days: null, pieces: f < t ? [dayPiece(f, t)] : [], wholeHours };
  const pieces: Piece[] = [];
  if (f < d0) pieces.push(dayPiece(f, d0));
  if (d1 < t) pieces.push(dayPiece(d1, t));
  return { days: d0 < d1 ? [new Date(d0), new Date(d1)] : null, pieces, wholeHours };
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
  const between = (column: string, [a, b]: Range) => `${column} >= ${p.add(a)} AND ${column} < ${p.add(b)}`;
  // One scan per range (not an OR of them), so each can be an index-only scan.
  const rollupRows = (grain: 'day' | 'hour', where: string) =>
    `SELECT t.bucket, ${columns} FROM ${rollupTable(table, grain)} t
      WHERE t.org_id = ${org}${tableFilter} AND (${where}) AND t.bucket >= ${mark}`;

  // A partial hour (or day) is read from its hour's (day's) rollup row and pending events when every event of that
  // hour (day) is in the window's part: the row then sums exactly the part's events. A window ending now nearly always
  // qualifies at its end, which saves aggregating up to an hour of raw rows (and a day's hour rows: by user, ~4,600 a
  // hour). Every raw row at or after the backfill's mark is in the rollups or pending, and the rollups keep the
  // figures of raw rows retention deleted, so the test reads rollups and pending keys: an hour qualifies when its
  // row's calls plus its pending keys equal the part's raw rows; a day, when each of its partial hours qualifies and
  // no hour row nor pending key lies outside the hours the part touches. Decided inside the statement, each once (the
  // `flags` row), so the answer is exact whatever commits meanwhile. Few, simple probes: their planning is paid on
  // every call, and their execution too (AND stops at the first false, and a probe runs only when reached).
  const flags: string[] = [];
  const flag = (conditions: string[]) => {
    flags.push(conditions.join(' AND '));
    return `(SELECT f${flags.length - 1} FROM ${n('flags')})`;
  };
  const pendingKeys = (where: string) =>
    `(SELECT count(*) FROM ai_rollup_pending q WHERE q.org_id = ${org} AND ${where})`;
  // Raw rows in the rest of the hour rule it out at once: probed first, so the count runs only where it may pass.
  const noRawRows = (a: Date, b: Date) =>
    a < b
      ? [
          `NOT EXISTS (SELECT 1 FROM ai_events o WHERE o.org_id = ${org} AND ${between('o.created_at', [a, b])})`,
        ]
      : [];
  const hourAlone = ({ range, whole: [start, end] }: Partial) =>
    flag([
      `${p.add(start)}::timestamptz >= ${mark}`,
      ...noRawRows(start, range[0]),
      ...noRawRows(range[1], end),
      `coalesce((SELECT h.calls FROM ai_roll_org_hour h WHERE h.org_id = ${org} AND h.bucket = ${p.add(start)}), 0)
        + ${pendingKeys(between('q.created_at', [start, end]))}
        = (SELECT count(*) FROM ai_events c WHERE c.org_id = ${org} AND ${between('c.created_at', range)})`,
    ]);
  const dayAlone = (piece: Piece & { day: Range }, edges: string[]) => {
    const day = piece.day;
    // The hours the part touches.
    const touched: Range = [
      new Date(Math.floor(piece.range[0].getTime() / HOUR) * HOUR),
      new Date(Math.ceil(piece.range[1].getTime() / HOUR) * HOUR),
    ];
    const outside = (column: string) => `${between(column, day)} AND NOT (${between(column, touched)})`;
    const flagged = flag([
      `${p.add(day[0])}::timestamptz >= ${mark}`,
      `NOT EXISTS (SELECT 1 FROM ai_roll_org_hour h WHERE h.org_id = ${org} AND ${outside('h.bucket')})`,
      `${pendingKeys(outside('q.created_at'))} = 0`,
    ]);
    return `(${[flagged, ...edges].join(' AND ')})`;
  };
  const rows: string[] = [];
  const rawRows: string[] = [];
  const pending: string[] = [];
  if (parts.days) {
    rows.push(rollupRows('day', between('t.bucket', parts.days)));
    pending.push(
      `p.created_at >= greatest(${p.add(parts.days[0])}, ${mark}) AND p.created_at < ${p.add(parts.days[1])}`,
    );
  }
  for (const piece of parts.pieces) {
    const edges = piece.edges.map(hourAlone);
    const wholeDay = piece.day ? dayAlone({ ...piece, day: piece.day }, edges) : undefined;
    const unlessDay = wholeDay ? ` AND NOT ${wholeDay}` : '';
    if (piece.day) {
      rows.push(rollupRows('day', `t.bucket = ${p.add(piece.day[0])} AND ${wholeDay}`));
      pending.push(`${wholeDay} AND ${between('p.created_at', piece.day)}`);
    }
    if (piece.hours) {
      rows.push(rollupRows('hour', `${between('t.bucket', piece.hours)}${unlessDay}`));
      pending.push(
        `p.created_at >= greatest(${p.add(piece.hours[0])}, ${mark}) AND p.created_at < ${p.add(piece.hours[1])}${unlessDay}`,
      );
    }
    for (const [i, edge] of piece.edges.entries()) {
      const whole = edges[i]!;
      rawRows.push(raw(`${between('e.created_at', edge.range)} AND NOT ${whole}${unlessDay}`));
      rows.push(rollupRows('hour', `t.bucket = ${p.add(edge.whole[0])} AND ${whole}${unlessDay}`));
      pending.push(`${whole}${unlessDay} AND ${between('p.created_at', edge.whole)}`);
    }
  }
  // Whole hours before the backfill's mark: raw rows (a day the backfill has not reached is never read from rollups).
  if (parts.wholeHours)
    rawRows.push(
      raw(
        `e.created_at >= ${p.add(parts.wholeHours[0])} AND e.created_at < least(${p.add(parts.wholeHours[1])}, ${mark})`,
      ),
    );
  // Events committed but not yet added by the compactor, wherever a rollup row is read.
  if (pending.length)
    rawRows.push(
      raw(
        `p.org_id = ${org} AND (${pending.map((c) => `(${c})`).join(' OR ')})`,
        'ai_rollup_pending p JOIN ai_events e ON e.org_id = p.org_id AND e.created_at = p.created_at AND e.id = p.id',
      ),
    );
  const flagsCte = flags.length
    ? `${n('flags')} AS MATERIALIZED (SELECT ${flags.map((f, i) => `${f} AS f${i}`).join(', ')}),\n    `
    : '';
  return `${flagsCte}${n('raw')} AS MATERIALIZED (
      ${rawRows.length ? rawRows.join('\n      UNION ALL ') : `${raw('false')}`}
    ),
    ${name} AS ${o.materialized === false ? 'NOT ' : ''}MATERIALIZED (
      ${[...rows, fromRaw].join('\n      UNION ALL ')}
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
