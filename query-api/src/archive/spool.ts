import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import QueryStream from 'pg-query-stream';
import type { SqlStatement } from '../db/sql-statement.ts';
import { coalesce } from '../exports/coalesce.ts';
import { csvLines, RAW_TEXT_TYPES } from './csv-lines.ts';

/**
 * Streams the rows of `query` (columns in `ARCHIVE_COLUMNS` order) from a server-side cursor into a CSV file for
 * DuckDB, with backpressure from the file back to the cursor, so memory stays flat whatever the row count.
 * Returns the number of rows written.
 */
export async function spoolToCsv(
  client: pg.PoolClient,
  query: SqlStatement,
  file: string,
  { batchSize = 5000, signal }: { batchSize?: number; signal?: AbortSignal } = {},
): Promise<number> {
  let rows = 0;
  const stream = client.query(
    new QueryStream(query.text, query.values, { batchSize, rowMode: 'array', types: RAW_TEXT_TYPES }),
  );
  await pipeline([stream, csvLines(() => rows++), coalesce(), createWriteStream(file, { mode: 0o600 })], {
    signal,
  });
  return rows;
}
