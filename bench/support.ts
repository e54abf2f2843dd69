import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { ensurePartitions, migrate } from '@observatory/exporter-postgres';
import pg from 'pg';

export const SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function databaseUrl(name: string): string {
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function onServer(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: SERVER_URL });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/** A migrated throwaway database on the benchmark server, dropped by `drop()`. */
export async function benchDatabase(
  label: string,
): Promise<{ pool: pg.Pool; url: string; drop(): Promise<void> }> {
  const name = `obs_bench_${label}_${randomBytes(3).toString('hex')}`;
  await onServer(`CREATE DATABASE ${name}`);
  const url = databaseUrl(name);
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  pool.on('error', () => undefined);
  await migrate(pool);
  await ensurePartitions(pool);
  return {
    pool,
    url,
    async drop() {
      await pool.end();
      await onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

export interface KeptDatabase {
  pool: pg.Pool;
  url: string;
  /** True when the database was (re)created empty by this call. */
  created: boolean;
  /** Migrations this call applied to a database that already existed (none when `created`). */
  newMigrations: string[];
  close(): Promise<void>;
}

/**
 * A database kept between benchmark runs under a fixed `name` (a large seed takes minutes): created when missing
 * or when `fresh`, otherwise reused and brought up to the current migrations. A migration edited after it was
 * applied (a branch that changed its own file) cannot be brought up to date: the database is then made anew.
 */
export async function keptBenchDatabase(name: string, { fresh = false } = {}): Promise<KeptDatabase> {
  const exists = async () => {
    const admin = new pg.Client({ connectionString: SERVER_URL });
    await admin.connect();
    try {
      return (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
    } finally {
      await admin.end();
    }
  };
  const url = databaseUrl(name);
  const open = () => {
    const pool = new pg.Pool({ connectionString: url, max: 8 });
    pool.on('error', () => undefined);
    return pool;
  };
  let created = fresh || !(await exists());
  let pool: pg.Pool;
  let newMigrations: string[] = [];
  if (!created) {
    pool = open();
    try {
      newMigrations = (await migrate(pool)).map((m) => `${m.version}_${m.name}`);
    } catch (err) {
      await pool.end();
      if (!/changed after it was applied/.test((err as Error).message)) throw err;
      console.log(`${name}: ${(err as Error).message}; making the database anew`);
      created = true;
    }
  }
  if (created) {
    await onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await onServer(`CREATE DATABASE ${name}`);
    pool = open();
    await migrate(pool);
    newMigrations = [];
  }
  await ensurePartitions(pool!);
  return { pool: pool!, url, created, newMigrations, close: () => pool.end() };
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

/** The median and 95th percentile of `samples` (nearest rank below). */
export function percentiles(samples: number[]): { p50: number; p95: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: s[Math.floor(0.5 * (s.length - 1))]!, p95: s[Math.floor(0.95 * (s.length - 1))]! };
}

/** p50 and p95 of `runs` calls of `call` (given the call's index), one at a time, in milliseconds. */
export async function timed(
  runs: number,
  call: (i: number) => Promise<unknown>,
): Promise<{ p50: number; p95: number }> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await call(i);
    samples.push(performance.now() - t);
  }
  return percentiles(samples);
}

/** The machine's load averages, to print beside figures measured on a shared machine. */
export const load = () =>
  `load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`;
