import type pg from 'pg';
import { backfillDayStatements, underRollupLock } from './compact.ts';

const DAY = 86_400_000;

/**
 * Every org holding events, and the newest event before $1 of any of them: one index probe per org (a loose scan of
 * the primary key), so days without events are skipped at no cost.
 */
const ORGS = `WITH RECURSIVE o AS (
    (SELECT org_id FROM ai_events ORDER BY org_id LIMIT 1)
    UNION ALL
    SELECT (SELECT e.org_id FROM ai_events e WHERE e.org_id > o.org_id ORDER BY e.org_id LIMIT 1)
    FROM o WHERE o.org_id IS NOT NULL
  )
  SELECT coalesce(array_agg(org_id), '{}') AS orgs,
    max((SELECT max(e.created_at) FROM ai_events e WHERE e.org_id = o.org_id AND e.created_at < $1)) AS newest
  FROM o WHERE org_id IS NOT NULL`;

export interface BackfillStep {
  /** True when nothing is left to roll up (reads use the rollups everywhere). */
  done: boolean;
  /** The UTC day this step rolled up. */
  day?: Date;
}

/**
 * One step of the background backfill: rolls up every org's raw rows of the newest UTC day holding events before
 * `ai_rollup_state.backfill_before` from scratch and moves the mark back to that day, in one REPEATABLE READ
 * transaction under the compactor's lock (so it never races a compaction). Newest days first: recent windows get
 * fast first. Reads take raw rows for every day still before the mark, so they are exact throughout. Null when
 * another runner holds the lock.
 */
export async function backfillRollupsStep(pool: pg.Pool): Promise<BackfillStep | null> {
  return underRollupLock(
    pool,
    async (client) => {
      const { rows } = await client.query<{ before: Date | number }>(
        'SELECT backfill_before AS before FROM ai_rollup_state FOR UPDATE',
      );
      const before = rows[0]?.before;
      if (!(before instanceof Date)) return { done: true };
      const { rows: found } = await client.query<{ orgs: string[]; newest: Date | null }>(ORGS, [before]);
      const { orgs, newest } = found[0]!;
      if (newest === null) {
        await client.query("UPDATE ai_rollup_state SET backfill_before = '-infinity'");
        return { done: true };
      }
      const day = new Date(Math.floor(newest.getTime() / DAY) * DAY);
      for (const statement of backfillDayStatements(day, orgs)) await client.query(statement);
      await client.query('UPDATE ai_rollup_state SET backfill_before = $1', [day]);
      return { done: false, day };
    },
    'REPEATABLE READ',
  );
}

/**
 * Makes the backfill start again from tomorrow (UTC): for rows stored with the rollup trigger off (a bulk load).
 * Reads take raw rows until it has passed their days.
 */
export async function startRollupBackfill(pool: pg.Pool): Promise<void> {
  await pool.query(
    "UPDATE ai_rollup_state SET backfill_before = date_trunc('day', now(), 'UTC') + interval '1 day'",
  );
}
