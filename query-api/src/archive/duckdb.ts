import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { ARCHIVE_COLUMNS } from './columns.ts';

export interface DuckDbOptions {
  /** Where DuckDB spills when a query outgrows `memoryLimit`. */
  tempDir: string;
  memoryLimit?: string;
  threads?: number;
}

/**
 * Runs `fn` on a private in-memory DuckDB that is closed afterwards. Its memory is capped and it spills to
 * `tempDir` beyond that, so a month of rows costs disk, not RAM. One thread: the service shares its cores with
 * ingest, and on a busy 2-core machine two DuckDB threads took twice as long as one (measured, CSV → Parquet).
 */
export async function withDuckDb<T>(
  { tempDir, memoryLimit = '256MB', threads = 1 }: DuckDbOptions,
  fn: (connection: DuckDBConnection) => Promise<T>,
): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: memoryLimit,
    threads: String(threads),
    temp_directory: tempDir,
    // Files and their order are ours to decide; no extension may be fetched from the network.
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const connection = await instance.connect();
  try {
    return await fn(connection);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/**
 * A DuckDB string literal. Only for paths this process made itself (temporary files, never user input): COPY and
 * table functions take no bind parameters for their file names.
 */
export function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * `read_csv` of a file written by `csvLines`, with every column typed from the one column definition. Quoted
 * empty fields are empty strings, unquoted ones null, as in PostgreSQL's CSV.
 */
export function csvSource(file: string): string {
  const columns = ARCHIVE_COLUMNS.map((c) => `${literal(c.name)}: ${literal(c.duckdb)}`).join(', ');
  return `read_csv(${literal(file)}, columns = {${columns}}, header = false, auto_detect = false, delim = ',',
    quote = '"', escape = '"', allow_quoted_nulls = false, new_line = '\\n')`;
}

export interface ParquetCopyOptions {
  rowGroupSize?: number;
}

/** Writes the rows of `select` to one Parquet file (snappy-compressed, the codec every reader has; row groups of `rowGroupSize`). */
export async function copyToParquet(
  connection: DuckDBConnection,
  select: string,
  target: string,
  { rowGroupSize = 100_000 }: ParquetCopyOptions = {},
): Promise<void> {
  await connection.run(
    `COPY (${select}) TO ${literal(target)} (FORMAT parquet, ROW_GROUP_SIZE ${rowGroupSize})`,
  );
}
