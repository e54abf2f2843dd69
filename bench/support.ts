import { randomBytes } from 'node:crypto';
import { ensurePartitions, migrate } from '@observatory/exporter-postgres';
import pg from 'pg';

export const SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A migrated throwaway database on the benchmark server, dropped by `drop()`. */
export async function benchDatabase(
  label: string,
): Promise<{ pool: pg.Pool; url: string; drop(): Promise<void> }> {
  const name = `obs_bench_${label}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: SERVER_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 8 });
  pool.on('error', () => undefined);
  await migrate(pool);
  await ensurePartitions(pool);
  return {
    pool,
    url: url.toString(),
    async drop() {
      await pool.end();
      const client = new pg.Client({ connectionString: SERVER_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/** Samples RSS every 100 ms while `fn` runs; returns its result with the peak. */
export async function withPeakRss<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; peakMb: number; startMb: number }> {
  const startMb = process.memoryUsage().rss / 2 ** 20;
  let peak = startMb;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss / 2 ** 20);
  }, 100);
  try {
    const result = await fn();
    return { result, peakMb: Math.round(peak), startMb: Math.round(startMb) };
  } finally {
    clearInterval(timer);
  }
}

export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
