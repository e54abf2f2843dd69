import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { OrgIdSchema } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { withTransaction } from '../db/transaction.ts';
import type { ExportStorage } from '../exports/storage.ts';
import { fetchVerified } from './archive.ts';
import { ARCHIVE_COLUMNS } from './columns.ts';
import { literal, withDuckDb } from './duckdb.ts';
import { type ArchiveManifest, ArchiveManifestSchema, manifestsOverlapping } from './manifest.ts';
import { archiveSelectList, removeQuietly } from './parquet-file.ts';

export interface RestoreDeps {
  pool: pg.Pool;
  storage: ExportStorage;
}

export interface RestoreResult {
  /** Archive files that overlapped the range. */
  files: number;
  /** Rows of those files inside the range. */
  rows: number;
  /** Rows that were not in `ai_events` and now are. */
  inserted: number;
}

const COLUMN_LIST = ARCHIVE_COLUMNS.map((c) => c.name).join(', ');

/**
 * Puts the org's archived events with `from <= created_at < to` back into `ai_events`. Each file is checked
 * against its manifest (SHA-256, row count) first, converted by DuckDB to CSV on disk and copied into a
 * temporary table, then inserted with ON CONFLICT DO NOTHING: restoring twice adds nothing, and rows still in the
 * table stay as they are. Rollups are told to skip these rows (`observatory.skip_rollups`): they were counted
 * when they first arrived.
 */
export async function restoreEvents(
  deps: RestoreDeps,
  orgId: string,
  from: Date,
  to: Date,
): Promise<RestoreResult> {
  OrgIdSchema.parse(orgId);
  if (!(from.getTime() < to.getTime())) throw new RangeError('restoreEvents: from must be before to');
  const manifests = (await deps.pool.query(manifestsOverlapping(orgId, from, to))).rows.map((r) =>
    ArchiveManifestSchema.parse(r),
  );
  const result: RestoreResult = { files: manifests.length, rows: 0, inserted: 0 };
  for (const manifest of manifests) {
    const { rows, inserted } = await restoreFile(deps, manifest, from, to);
    result.rows += rows;
    result.inserted += inserted;
  }
  return result;
}

async function restoreFile(
  { pool, storage }: RestoreDeps,
  manifest: ArchiveManifest,
  from: Date,
  to: Date,
): Promise<{ rows: number; inserted: number }> {
  const work = join(storage.tempDir, `restore-${randomUUID()}`);
  await mkdir(work, { recursive: true, mode: 0o700 });
  try {
    const parquet = join(work, 'archive.parquet');
    const csv = join(work, 'rows.csv');
    await fetchVerified(storage, manifest, parquet, work);
    const rows = await withDuckDb({ tempDir: work }, async (db) => {
      const described = await db.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${literal(parquet)})`);
      const present = new Set(described.getRowObjects().map((r) => String(r.column_name)));
      // Timestamps as UTC text with offset, which PostgreSQL reads back exactly (microseconds included).
      const copied = await db.runAndReadAll(
        `COPY (SELECT ${archiveSelectList(present)} FROM read_parquet(${literal(parquet)})
               WHERE created_at >= ${literal(from.toISOString())}::TIMESTAMPTZ
                 AND created_at < ${literal(to.toISOString())}::TIMESTAMPTZ)
         TO ${literal(csv)} (FORMAT csv, HEADER false)`,
      );
      return Number(copied.getRows()[0]?.[0] ?? 0);
    });
    if (rows === 0) return { rows, inserted: 0 };
    const inserted = await withTransaction(pool, async (client) => {
      await client.query("SET LOCAL observatory.skip_rollups = 'on'");
      await client.query('SELECT ai_events_ensure_partition($1)', [manifest.range_from]);
      await client.query('CREATE TEMP TABLE archive_restore (LIKE ai_events) ON COMMIT DROP');
      await pipeline(
        createReadStream(csv),
        client.query(copyFrom(`COPY archive_restore (${COLUMN_LIST}) FROM STDIN WITH (FORMAT csv)`)),
      );
      // No xact_id: restored rows are history, before every live-stream position, not new events to stream.
      const { rowCount } = await client.query(
        `INSERT INTO ai_events (${COLUMN_LIST}, xact_id) SELECT ${COLUMN_LIST}, NULL FROM archive_restore
         ON CONFLICT DO NOTHING`,
      );
      return rowCount ?? 0;
    });
    return { rows, inserted };
  } finally {
    await removeQuietly(work);
  }
}
