import type pg from 'pg';

/** Creates the monthly `ai_events` partitions from this month through `monthsAhead` months ahead. */
export async function ensurePartitions(pool: pg.Pool, now = new Date(), monthsAhead = 2): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i <= monthsAhead; i++) {
    const at = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i, 1));
    const { rows } = await pool.query<{ name: string }>('SELECT ai_events_ensure_partition($1) AS name', [
      at,
    ]);
    names.push(rows[0]!.name);
  }
  return names;
}
