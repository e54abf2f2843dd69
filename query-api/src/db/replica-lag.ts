import type { Meter } from '@opentelemetry/api';
import type pg from 'pg';

const LAG_TIMEOUT_MS = 2000;

/**
 * Seconds the read replica's replayed data is behind its primary: 0 when it has replayed everything it received,
 * else the time since the last transaction it replayed. `null` when the read database is not a standby (a primary
 * named twice, or a promoted replica): nothing lags.
 */
export const REPLICA_LAG_SQL = `
  SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN NULL
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE GREATEST(0, EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()))
  END::float8 AS lag_seconds`;

/** Asks the read database its replication lag, within a bound: a hung replica must not hang `/health` or `/metrics`. */
export async function replicaLagSeconds(readPool: pg.Pool): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const { rows } = await Promise.race([
      readPool.query<{ lag_seconds: number | null }>(REPLICA_LAG_SQL),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), LAG_TIMEOUT_MS);
      }),
    ]);
    return rows[0]!.lag_seconds;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `observatory_db_replica_lag_seconds` (no labels: one read database per process), observed at each scrape; absent
 * while the replica cannot be asked, so alerts see "no data" rather than a made-up 0.
 */
export function registerReplicaLagMetric(meter: Meter, readPool: pg.Pool): void {
  meter
    .createObservableGauge('observatory_db_replica_lag_seconds', {
      description: 'Seconds the read replica (DATABASE_READ_URL) is behind its primary',
    })
    .addCallback(async (result) => {
      const lag = await replicaLagSeconds(readPool).catch(() => undefined);
      if (typeof lag === 'number') result.observe(lag);
    });
}
