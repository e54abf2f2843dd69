import { type AppliedMigration, ensurePartitions, migrate } from '@observatory/exporter-postgres';
import pg from 'pg';
import { type Config, ConfigError } from '../config.ts';
import { type EmbeddedOptions, openEmbedded } from './embedded.ts';

export interface Database {
  /** The primary: every write, and the reads that must see them (keys, sessions, settings, alerts, jobs). */
  pool: pg.Pool;
  /**
   * Where list, aggregate, CSV and export reads go: a pool on `DATABASE_READ_URL`, else the primary's pool itself.
   * Its rows may lag the primary's by the replica's replication delay.
   */
  readPool: pg.Pool;
  url: string;
  /** Where the database lives, for logs: the server's host and port, or "embedded". */
  description: string;
  /** Migrations applied while opening. */
  applied: AppliedMigration[];
  close(): Promise<void>;
}

function openPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5000 });
  // An idle client losing its server must not crash the process; the next query reports the problem.
  pool.on('error', () => undefined);
  return pool;
}

function describe(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || 5432}/${u.pathname.slice(1)}`;
}

/**
 * Connects to DATABASE_URL, or to the embedded PostgreSQL under OBSERVATORY_DATA_DIR (starting it when no
 * process runs it yet), applies pending migrations and makes sure this and the next months' partitions exist.
 */
export async function openDatabase(config: Config, options: EmbeddedOptions = {}): Promise<Database> {
  const embedded = config.DATABASE_URL ? undefined : await openEmbedded(config.OBSERVATORY_DATA_DIR, options);
  const url = config.DATABASE_URL ?? embedded!.url;
  const pool = openPool(url);
  const readPool = config.DATABASE_READ_URL ? openPool(config.DATABASE_READ_URL) : pool;
  const close = async () => {
    if (readPool !== pool) await readPool.end().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await embedded?.close();
  };
  const reachable = async (reads: pg.Pool, what: string, target: string) => {
    try {
      await reads.query('SELECT 1');
    } catch (err) {
      await close();
      throw new ConfigError(`Cannot connect to ${what} at ${describe(target)}: ${(err as Error).message}`);
    }
  };
  await reachable(pool, 'PostgreSQL', url);
  if (config.DATABASE_READ_URL) {
    await reachable(readPool, 'the read replica (DATABASE_READ_URL)', config.DATABASE_READ_URL);
  }
  let applied: AppliedMigration[];
  try {
    applied = await migrate(pool);
    await ensurePartitions(pool);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    pool,
    readPool,
    url,
    applied,
    description: embedded ? `embedded (${config.OBSERVATORY_DATA_DIR})` : describe(url),
    close,
  };
}
