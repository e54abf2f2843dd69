import type pg from 'pg';
import { ADVISORY_LOCKS } from '../db/advisory-locks.ts';
import { ROLLUP_FAMILIES, ROLLUP_SUMS, type RollupFamily } from './tables.ts';

/** Delta rows moved per transaction: bounds one pass's locks and memory whatever the backlog. */
export const COMPACT_BATCH = 20_000;

/**
 * One statement that moves up to `limit` delta rows of a family into its hourly and daily tables: the DELETE …
 * RETURNING, the hourly upsert and the daily upsert commit or fail together, so a lost connection loses nothing
 * and a delta is never counted twice. Deltas are aggregated per key first, because one upsert may touch a row only
 * once.
 */
export function compactStatement(f: RollupFamily, limit: number): { text: string; values: unknown[] } {
  const key = ['org_id', 'bucket', ...f.dimensions];
  const merged = (source: string) =>
    [
      ...ROLLUP_SUMS.map((c) => `sum(${c})${c === 'cost_usd' ? '' : '::bigint'} AS ${c}`),
      ...f.maps.map((m) => `obs_counts_merge(array_agg(${m})) AS ${m}`),
    ].join(', ') + ` FROM ${source}`;
  const upsert = (table: string) =>
    `ON CONFLICT (${key.join(', ')}) DO UPDATE SET ${[
      ...ROLLUP_SUMS.map((c) => `${c} = ${table}.${c} + excluded.${c}`),
      ...f.maps.map((m) => `${m} = obs_counts_merge(ARRAY[${table}.${m}, excluded.${m}])`),
    ].join(', ')}`;
  const dims = f.dimensions.join(', ');
  return {
    text: `WITH moved AS (
        DELETE FROM ${f.delta} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${f.delta} LIMIT $1)) RETURNING *
      ),
      by_hour AS (SELECT org_id, bucket, ${dims}, ${merged('moved')} GROUP BY ${key.join(', ')}),
      hours AS (
        INSERT INTO ${f.hour} SELECT * FROM by_hour ${upsert(f.hour)} RETURNING 1
      ),
      days AS (
        INSERT INTO ${f.day}
        SELECT org_id, date_trunc('day', bucket, 'UTC') AS bucket, ${dims}, ${merged('by_hour')}
        GROUP BY org_id, date_trunc('day', bucket, 'UTC'), ${dims}
        ${upsert(f.day)} RETURNING 1
      )
      SELECT (SELECT count(*) FROM moved)::int AS moved`,
    values: [limit],
  };
}

export interface CompactResult {
  /** False when another runner held the lock: this pass did nothing. */
  ran: boolean;
  /** Delta rows moved, per family. */
  moved: Record<RollupFamily['name'], number>;
}

/**
 * Moves every delta row visible now into the hourly and daily tables, one batch per transaction. One runner at a
 * time across replicas: each batch's transaction first tries the advisory lock and a pass that cannot take it stops
 * at once, so two runners never both merge a delta. Rows the trigger appends while a pass runs wait for the next one;
 * reads see them in the deltas meanwhile.
 */
export async function compactRollups(pool: pg.Pool, batch = COMPACT_BATCH): Promise<CompactResult> {
  const moved: CompactResult['moved'] = { main: 0, user: 0 };
  for (const family of ROLLUP_FAMILIES) {
    for (;;) {
      const n = await compactBatch(pool, family, batch);
      if (n === null) return { ran: false, moved };
      moved[family.name] += n;
      if (n < batch) break;
    }
  }
  return { ran: true, moved };
}

/** One batch in its own transaction; null when another runner holds the lock. */
async function compactBatch(pool: pg.Pool, family: RollupFamily, batch: number): Promise<number | null> {
  const client = await pool.connect();
  let broken = false;
  // A connection lost while checked out emits 'error' on the client, not the pool: it fails this batch only.
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
      const result = await client.query<{ moved: number }>(compactStatement(family, batch));
      await client.query('COMMIT');
      return result.rows[0]!.moved;
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
