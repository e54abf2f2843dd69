import { type AppliedMigration, ensurePartitions, migrate } from '@observatory/exporter-postgres';
import pg from 'pg';
import { type Config, ConfigError } from '../config.ts';
import { type EmbeddedOptions, openEmbedded } from './embedded.ts';

export interface Database {
  pool: pg.Pool;
  url: string;
  /** Where the database lives, for logs: the server's host and port, or "embedded". */
  description: string;
  /** Migrations applied while opening. */
  applied: AppliedMigration[];
  close(): Promise<void>;
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
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5000 });
  // An idle client losing its server must not crash the process; the next query reports the problem.
  pool.on('error', () => undefined);
  const close = async () => {
    await pool.end().catch(() => undefined);
    await embedded?.close();
  };
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await close();
    throw new ConfigError(`Cannot connect to PostgreSQL at ${describe(url)}: ${(err as Error).message}`);
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
    url,
    applied,
    description: embedded ? `embedded (${config.OBSERVATORY_DATA_DIR})` : describe(url),
    close,
  };
}
