import { AI_EVENT_COLUMNS, AI_EVENT_PG_TYPES } from '@observatory/exporter-postgres';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';

/**
 * Reads a Parquet file with hyparquet, a reader independent of the DuckDB that wrote it, into the text form of
 * `textRows`: timestamps as exact microseconds, decimals as the nearest double (hyparquet has no exact decimals;
 * compare them with Number() of PostgreSQL's text, exact for the values the tests use), booleans as true/false.
 */
export async function readParquetAsText(file: string): Promise<Record<string, string | number | null>[]> {
  const rows = await parquetReadObjects({
    file: await asyncBufferFromFile(file),
    parsers: { timestampFromMicroseconds: (micros: bigint) => micros as never },
  });
  return rows.map((row) =>
    Object.fromEntries(
      AI_EVENT_COLUMNS.map((c) => {
        const value = row[c];
        if (value === null || value === undefined) return [c, null];
        const type = AI_EVENT_PG_TYPES[c];
        if (type === 'bool') return [c, value ? 'true' : 'false'];
        if (type === 'numeric' || type === 'float8') return [c, Number(value)];
        return [c, String(value)];
      }),
    ),
  );
}

/** `textRows` in the shape `readParquetAsText` gives: numbers for double and numeric columns. */
export function comparable(rows: Record<string, string | null>[]): Record<string, string | number | null>[] {
  return rows.map((row) =>
    Object.fromEntries(
      AI_EVENT_COLUMNS.map((c) => {
        const value = row[c] ?? null;
        const type = AI_EVENT_PG_TYPES[c];
        return [c, value !== null && (type === 'numeric' || type === 'float8') ? Number(value) : value];
      }),
    ),
  );
}
