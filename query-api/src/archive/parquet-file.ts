import { rm } from 'node:fs/promises';
import { ARCHIVE_COLUMNS } from './columns.ts';
import { copyToParquet, csvSource, withDuckDb } from './duckdb.ts';

/**
 * Turns a CSV file of `csvLines` rows into a Parquet file with typed columns, keeping the rows' order. DuckDB
 * reads and writes in bounded chunks (row group by row group), so a file of any size takes the same memory.
 */
export async function csvToParquet(csvFile: string, target: string, tempDir: string): Promise<void> {
  await withDuckDb({ tempDir }, (connection) =>
    copyToParquet(connection, `SELECT * FROM ${csvSource(csvFile)}`, target),
  );
}

/** The column list of a SELECT over an archive file; columns an older file lacks come back as null. */
export function archiveSelectList(present: ReadonlySet<string>): string {
  return ARCHIVE_COLUMNS.map((c) =>
    present.has(c.name) ? `"${c.name}"` : `CAST(NULL AS ${c.duckdb}) AS "${c.name}"`,
  ).join(', ');
}

export async function removeQuietly(...files: string[]): Promise<void> {
  await Promise.all(files.map((f) => rm(f, { force: true, recursive: true })));
}
