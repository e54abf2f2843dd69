import type pg from 'pg';
import { ADVISORY_LOCKS } from '../db/advisory-locks.ts';
import { dayKeys, dayTable, hourTable, mergedRows, RAW_COLUMNS, rowsFromRaw, unpivotDimensions } from './sql.ts';
import { DIRTY_HOURS, ROLLUPS, STALE_DAYS } from './tables.ts';

/** Dirty-hour marks (and stale days) taken per transaction: bounds one step's locks and memory whatever the backlog. */
export const COMPACT_BATCH = 5_000;

type Keys = { orgs: string[]; buckets: Date[] };
type Sql = { text: string; values: unknown[] };

const KEYS = 'unnest($1::text[], $2::timestamptz[]) AS k(org_id, bucket)';

/** Takes up to `limit` marks out of `table`: the distinct (org, bucket) they named. */
const claim = (table: string, limit: number): Sql => ({
  text: `WITH taken AS (
      DELETE FROM ${table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${table} LIMIT $1)) RETURNING org_id, bucket
    )
    SELECT coalesce(array_agg(org_id), '{}') AS orgs, coalesce(array_agg(bucket), '{}') AS buckets,
      (SELECT count(*) FROM taken)::int AS taken
    FROM (SELECT DISTINCT org_id, bucket FROM taken) d`,
  values: [limit],
});

/**
 * Replaces the hour rows of every rollup for (org, hour) keys with the figures of the raw rows there now; `raw`
 * selects those rows (RAW_COLUMNS of `ai_events e`), `clear` the rollup rows to replace (table alias `t`).
 */
function rebuildHours(raw: string, clear: string, values: unknown[]): Sql[] {
  return [
    {
      text: `WITH ${ROLLUPS.map((r, i) => `clear${i} AS (DELETE FROM ${hourTable(r)} t WHERE ${clear})`).join(', ')}
        SELECT 1`,
      values,
    },
    {
      text: `WITH raw AS MATERIALIZED (${raw}),
        dims AS MATERIALIZED (SELECT * FROM ${unpivotDimensions('raw')} u),
        ${ROLLUPS.map((r, i) => `ins${i} AS (INSERT INTO ${hourTable(r)} ${rowsFromRaw(r, 'raw', 'dims')})`).join(', ')}
        SELECT 1`,
      values,
    },
  ];
}

/** Replaces the day rows of (org, day) keys with their hour rows merged. */
function rebuildDays(): Sql[] {
  return ROLLUPS.flatMap((r) => [
    {
      text: `DELETE FROM ${dayTable(r)} t USING ${KEYS} WHERE t.org_id = k.org_id AND t.bucket = k.bucket`,
      values: [],
    },
    {
      text: `INSERT INTO ${dayTable(r)} ${mergedRows(
        r,
        dayKeys(r),
        `(SELECT h.* FROM ${KEYS} JOIN ${hourTable(r)} h ON h.org_id = k.org_id
            AND h.bucket >= k.bucket AND h.bucket < k.bucket + interval '1 day') hours`,
      )}`,
      values: [],
    },
  ]);
}

/** Statements recomputing dirty (org, hour) keys from raw rows, and marking their days stale. */
export function hourStatements(keys: Keys): Sql[] {
  const values = [keys.orgs, keys.buckets];
  return [
    ...rebuildHours(
      `SELECT ${RAW_COLUMNS} FROM ${KEYS} JOIN ai_events e ON e.org_id = k.org_id
        AND e.created_at >= k.bucket AND e.created_at < k.bucket + interval '1 hour'`,
      `(t.org_id, t.bucket) IN (SELECT org_id, bucket FROM ${KEYS})`,
      values,
    ),
    {
      text: `INSERT INTO ${STALE_DAYS} SELECT DISTINCT org_id, date_trunc('day', bucket, 'UTC') FROM ${KEYS}
        ON CONFLICT DO NOTHING`,
      values,
    },
  ];
}

/** Statements recomputing stale (org, day) keys from their hour rows. */
export function dayStatements(keys: Keys): Sql[] {
  return rebuildDays().map((s) => ({ ...s, values: [keys.orgs, keys.buckets] }));
}

/**
 * Statements rolling up every org's raw rows of one UTC day from scratch (the backfill's step): hour rows, then day
 * rows, for the orgs listed (all that hold events).
 */
export function backfillDayStatements(day: Date, orgs: string[]): Sql[] {
  const next = new Date(day.getTime() + 86_400_000);
  return [
    ...rebuildHours(
      `SELECT ${RAW_COLUMNS} FROM ai_events e WHERE e.org_id = ANY($1) AND e.created_at >= $2 AND e.created_at < $3`,
      't.org_id = ANY($1) AND t.bucket >= $2 AND t.bucket < $3',
      [orgs, day, next],
    ),
    ...dayStatements({ orgs, buckets: orgs.map(() => day) }),
  ];
}

export interface CompactResult {
  /** False when another runner held the lock: this pass did nothing. */
  ran: boolean;
  /** Distinct (org, hour) keys recomputed from raw rows, and (org, day) keys from hour rows. */
  hours: number;
  days: number;
}

/**
 * Runs `fn` in a transaction holding the compactor's advisory lock; null when another runner holds it. One runner
 * at a time across replicas: the compactor and the backfill both replace rollup rows, never both at once.
 */
export async function underRollupLock<T>(
  pool: pg.Pool,
  fn: (client: pg.ClientBase) => Promise<T>,
): Promise<T | null> {
  const client = await pool.connect();
  let broken = false;
  // A connection lost while checked out emits 'error' on the client, not the pool: it fails this step only.
  const lost = () => {
    broken = true;
  };
  client.on('error', lost);
  try {
    await client.query('BEGIN');
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

async function run(client: pg.ClientBase, statements: Sql[]) {
  for (const s of statements) await client.query(s);
}

/**
 * Recomputes every dirty hour visible now from its raw rows, then every stale day from its hours, `batch` marks per
 * transaction. Each transaction removes the marks it read and replaces those rollup rows together, so a lost
 * connection loses nothing; rows committed meanwhile leave marks of their own for the next pass (the raw rows read
 * are never older than the marks removed: marks are read first).
 */
export async function compactRollups(pool: pg.Pool, batch = COMPACT_BATCH): Promise<CompactResult> {
  const result: CompactResult = { ran: true, hours: 0, days: 0 };
  for (const [table, kind] of [
    [DIRTY_HOURS, 'hours'],
    [STALE_DAYS, 'days'],
  ] as const) {
    for (;;) {
      const step = await underRollupLock(pool, async (client) => {
        const { rows } = await client.query<Keys & { taken: number }>(claim(table, batch));
        const keys = rows[0]!;
        if (keys.orgs.length)
          await run(client, kind === 'hours' ? hourStatements(keys) : dayStatements(keys));
        return keys;
      });
      if (step === null) return { ...result, ran: false };
      result[kind] += step.orgs.length;
      // Fewer than a batch: every mark there was when this pass began is taken.
      if (step.taken < batch) break;
    }
  }
  return result;
}
