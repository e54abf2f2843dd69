import type pg from 'pg';

/**
 * Creates the monthly partitions of `ai_events` and of its sibling `ai_spans` from this month through
 * `monthsAhead` months ahead; returns the `ai_events` partitions' names.
 */
export async function ensurePartitions(pool: pg.Pool, now = new Date(), monthsAhead = 2): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i <= monthsAhead; i++) {
    const at = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i, 1));
    const { rows } = await pool.query<{ name: string }>(
      'SELECT ai_events_ensure_partition($1) AS name, ai_spans_ensure_partition($1)',
      [at],
    );
    names.push(rows[0]!.name);
  }
  return names;
}
