import type pg from 'pg';

/** The monthly-partitioned tables, each with its ensure-partition function (migrations 0001, 0021 and 0023). */
const PARTITIONED = ['ai_events', 'structured_logs', 'ai_spans'] as const;

/**
 * Creates the monthly partitions of `ai_events`, `structured_logs` and `ai_spans` from this month through
 * `monthsAhead` months ahead; returns their names.
 */
export async function ensurePartitions(pool: pg.Pool, now = new Date(), monthsAhead = 2): Promise<string[]> {
  const names: string[] = [];
  for (const table of PARTITIONED) {
    for (let i = 0; i <= monthsAhead; i++) {
      const at = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i, 1));
      const { rows } = await pool.query<{ name: string }>(`SELECT ${table}_ensure_partition($1) AS name`, [
        at,
      ]);
      names.push(rows[0]!.name);
    }
  }
  return names;
}
