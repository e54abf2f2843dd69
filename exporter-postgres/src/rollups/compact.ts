import type pg from 'pg';
import { ADVISORY_LOCKS } from '../db/advisory-locks.ts';
import {
  dayKeys,
  dayTable,
  hourTable,
  mergedRows,
  RAW_COLUMNS,
  ROLLUP_KEYS,
  rowsFromRaw,
  unpivotDimensions,
} from './sql.ts';
import { PENDING, ROLLUP_HISTOGRAMS, ROLLUP_SUMS, ROLLUPS, type Rollup } from './tables.ts';

/** Pending events taken per transaction: bounds one step's locks and memory whatever the backlog. */
export const COMPACT_BATCH = 20_000;

type Sql = { text: string; values: unknown[] };

/** How a stored row and an incoming one (`excluded`) add up, per rollup. */
const ADD: Record<Rollup, (t: string) => string> = {
  ai_roll_org: (t) => figuresAdd(t),
  ai_roll_dim: (t) => figuresAdd(t),
  ai_roll_error: (t) => `count = ${t}.count + excluded.count,
    first_seen = least(${t}.first_seen, excluded.first_seen), last_seen = greatest(${t}.last_seen, excluded.last_seen),
    message = CASE WHEN excluded.message_at > ${t}.message_at OR ${t}.message_at IS NULL THEN excluded.message ELSE ${t}.message END,
    message_at = greatest(${t}.message_at, excluded.message_at)`,
  ai_roll_fallback: (t) => `count = ${t}.count + excluded.count`,
};

function figuresAdd(t: string): string {
  const sums = ROLLUP_SUMS.map((c) => `${c} = ${t}.${c} + excluded.${c}`);
  const hists = ROLLUP_HISTOGRAMS.map((c) => `${c} = obs_hist_merge(${t}.${c} || excluded.${c})`);
  return [...sums, ...hists].join(', ');
}

const upsert = (rollup: Rollup, table: string, select: string) =>
  `INSERT INTO ${table} AS t ${select}
   ON CONFLICT (${ROLLUP_KEYS[rollup].join(', ')}) DO UPDATE SET ${ADD[rollup]('t')}`;

/**
 * One statement that takes up to `limit` pending keys, aggregates their events and adds them into every rollup's hour
 * and day rows: the DELETE of the keys and every upsert commit or fail together, so a lost connection loses nothing
 * and an event is never added twice. An event deleted before its key was taken (retention) adds nothing.
 */
export function compactStatement(limit: number): Sql {
  const hours = (r: Rollup) => `hours_${r}`;
  return {
    text: `WITH taken AS (
        DELETE FROM ${PENDING} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${PENDING} LIMIT $1))
        RETURNING org_id, created_at, id
      ),
      raw AS MATERIALIZED (
        SELECT ${RAW_COLUMNS} FROM taken k JOIN ai_events e
          ON e.org_id = k.org_id AND e.created_at = k.created_at AND e.id = k.id
      ),
      dims AS MATERIALIZED (SELECT * FROM ${unpivotDimensions('raw')} u),
      ${ROLLUPS.map((r) => `${hours(r)} AS MATERIALIZED (${rowsFromRaw(r, 'raw', 'dims')})`).join(',\n')},
      ${ROLLUPS.map(
        (r) => `add_hour_${r} AS (${upsert(r, hourTable(r), `SELECT * FROM ${hours(r)}`)}),
        add_day_${r} AS (${upsert(r, dayTable(r), mergedRows(r, dayKeys(r), hours(r)))})`,
      ).join(',\n')}
      SELECT (SELECT count(*) FROM taken)::int AS taken`,
    values: [limit],
  };
}

export interface CompactResult {
  /** False when another runner held the lock: this pass did nothing. */
  ran: boolean;
  /** Pending events added into the rollups. */
  moved: number;
}

/**
 * Runs `fn` in a transaction holding the compactor's advisory lock; null when another runner holds it. One runner
 * at a time across replicas: the compactor and the backfill both write rollup rows, never both at once.
 */
export async function underRollupLock<T>(
  pool: pg.Pool,
  fn: (client: pg.ClientBase) => Promise<T>,
  isolation = 'READ COMMITTED',
): Promise<T | null> {
  const client = await pool.connect();
  let broken = false;
  // A connection lost while checked out emits 'error' on the client, not the pool: it fails this step only.
  const lost = () => {
    broken = true;
  };
  client.on('error', lost);
  try {
    await client.query(`BEGIN ISOLATION LEVEL ${isolation}`);
    try {
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_xact_lock($1) AS locked',
        [ADVISORY_LOCKS.rollupCompactor],
      );
      if (!rows[0]?.locked) {
        await client.query('ROLLBACK');
        return null;
      }
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw err;
    }
  } finally {
    client.release(broken);
    // Only after release(), which gives the pool its own listener back: the client is never without one.
    client.off('error', lost);
  }
}

/**
 * Adds every pending event visible now into the rollups, `batch` per transaction. Events committed while a pass runs
 * wait for the next one; reads see them as pending meanwhile.
 */
export async function compactRollups(pool: pg.Pool, batch = COMPACT_BATCH): Promise<CompactResult> {
  let moved = 0;
  for (;;) {
    const taken = await underRollupLock(pool, async (client) => {
      const { rows } = await client.query<{ taken: number }>(compactStatement(batch));
      return rows[0]!.taken;
    });
    if (taken === null) return { ran: false, moved };
    moved += taken;
    if (taken < batch) return { ran: true, moved };
  }
}

/**
 * Statements rolling up every org's raw rows of one UTC day from scratch (the backfill's step), run in one
 * REPEATABLE READ transaction: the day's pending keys are dropped and its hour and day rows replaced by the figures
 * of the rows that snapshot sees, so a row committed after it is added by the compactor instead, never both.
 */
export function backfillDayStatements(day: Date, orgs: string[]): Sql[] {
  const values = [orgs, day, new Date(day.getTime() + 86_400_000)];
  const inDay = (t: string, time: string) =>
    `${t}.org_id = ANY($1) AND ${t}.${time} >= $2 AND ${t}.${time} < $3`;
  return [
    {
      text: `WITH pending AS (DELETE FROM ${PENDING} t WHERE ${inDay('t', 'created_at')}),
        ${ROLLUPS.flatMap((r) => [hourTable(r), dayTable(r)])
          .map((table, i) => `clear${i} AS (DELETE FROM ${table} t WHERE ${inDay('t', 'bucket')})`)
          .join(', ')}
        SELECT 1`,
      values,
    },
    {
      text: `WITH raw AS MATERIALIZED (SELECT ${RAW_COLUMNS} FROM ai_events e WHERE ${inDay('e', 'created_at')}),
        dims AS MATERIALIZED (SELECT * FROM ${unpivotDimensions('raw')} u),
        ${ROLLUPS.map((r) => `hours_${r} AS MATERIALIZED (${rowsFromRaw(r, 'raw', 'dims')})`).join(',\n')},
        ${ROLLUPS.map(
          (r) => `hour_${r} AS (INSERT INTO ${hourTable(r)} SELECT * FROM hours_${r}),
          day_${r} AS (INSERT INTO ${dayTable(r)} ${mergedRows(r, dayKeys(r), `hours_${r}`)})`,
        ).join(',\n')}
        SELECT 1`,
      values,
    },
  ];
}
