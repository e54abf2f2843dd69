import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { AI_EVENT_COLUMNS } from '@observatory/exporter-postgres';
import type pg from 'pg';
import QueryStream from 'pg-query-stream';
import { RAW_TEXT_TYPES } from '../archive/csv-lines.ts';
import { checkout } from '../db/checkout.ts';
import { EVENT_ROW_TYPES } from '../query/event-rows.ts';
import { EventFiltersSchema, eventWhere } from '../query/filters.ts';
import { coalesce } from './coalesce.ts';
import { encoderStages, fileExtension } from './encoders.ts';
import type { ExportFormat } from './job.ts';
import { exportRows } from './sql.ts';
import type { ExportStorage } from './storage.ts';

export interface ExportSpec {
  id: string;
  orgId: string;
  format: ExportFormat;
  gzip: boolean;
  /** Filters as stored with the job; re-validated here and always bound to `orgId`. */
  filters: Record<string, unknown>;
}

export interface ExportResult {
  storageKey: string;
  rowCount: number;
  fileSize: number;
}

export interface RunExportOptions {
  signal?: AbortSignal;
  /** Rows fetched per round trip from the server-side cursor. */
  batchSize?: number;
  /** Test-only: pause this long after every 100 rows, so a test can kill a worker mid-export. */
  throttleMs?: number;
}

function counter(onRow: () => void, throttleMs: number, every: number): Transform {
  let rows = 0;
  return new Transform({
    objectMode: true,
    transform(row, _encoding, callback) {
      onRow();
      if (throttleMs > 0 && ++rows % every === 0) {
        setTimeout(() => callback(null, row), throttleMs);
      } else {
        callback(null, row);
      }
    },
  });
}

function storageKeyFor(spec: ExportSpec): string {
  return `${spec.orgId}/${spec.id}.${fileExtension(spec.format, spec.gzip)}`;
}

/**
 * Streams the job's rows from a server-side cursor through the format encoder (and gzip) into a temporary
 * file, then hands the file to storage, which moves it into place atomically. Backpressure runs from the
 * file back to the cursor, so memory stays flat whatever the row count. Parquet goes through a CSV file of the
 * rows' exact text that DuckDB then rewrites as Parquet, row group by row group, in bounded memory; it is never
 * gzip-wrapped (its columns are compressed inside the file, and readers need the file as it is).
 */
export async function runExport(
  pool: pg.Pool,
  storage: ExportStorage,
  spec: ExportSpec,
  options: RunExportOptions = {},
): Promise<ExportResult> {
  const { batchSize = 2000, throttleMs = 0 } = options;
  const filters = { ...EventFiltersSchema.parse(spec.filters), org_id: spec.orgId };
  const query = exportRows(eventWhere(filters), AI_EVENT_COLUMNS);
  const storageKey = storageKeyFor(spec);
  const tempFile = join(storage.tempDir, `${spec.id}.${randomUUID()}.part`);
  const parquet = spec.format === 'parquet';
  const csvFile = `${tempFile}.csv`;
  const { stream, release } = await checkout(pool);
  let rowCount = 0;
  let failed = false;
  try {
    const rows = stream(
      new QueryStream(
        query.text,
        query.values,
        parquet
          ? { batchSize, rowMode: 'array', types: RAW_TEXT_TYPES }
          : { batchSize, types: EVENT_ROW_TYPES },
      ),
    );
    await pipeline(
      [
        rows,
        counter(() => rowCount++, throttleMs, 100),
        ...encoderStages(spec.format),
        coalesce(),
        ...(spec.gzip && !parquet ? [createGzip()] : []),
        createWriteStream(parquet ? csvFile : tempFile, { mode: 0o600 }),
      ],
      { signal: options.signal },
    );
    if (parquet) {
      // Loaded on use: DuckDB's engine is a native module the other formats do without.
      const { csvToParquet } = await import('../archive/parquet-file.ts');
      await csvToParquet(csvFile, tempFile, storage.tempDir);
    }
    const { size } = await stat(tempFile);
    await storage.put(storageKey, tempFile);
    return { storageKey, rowCount, fileSize: size };
  } catch (err) {
    failed = true;
    await rm(tempFile, { force: true });
    throw err;
  } finally {
    await rm(csvFile, { force: true });
    // A client whose cursor was cut off mid-way is closed rather than handed back to the pool.
    release(failed);
  }
}
