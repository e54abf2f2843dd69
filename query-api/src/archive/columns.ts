import {
  AI_EVENT_COLUMNS,
  AI_EVENT_PG_TYPES,
  type AiEvent,
  AiEventSchema,
} from '@observatory/exporter-postgres';

/**
 * Bumped whenever the archived columns change (added, renamed, retyped). Restore reads older files by column name,
 * so a column a file lacks comes back as null.
 */
export const ARCHIVE_SCHEMA_VERSION = 1;

type PgType = (typeof AI_EVENT_PG_TYPES)[keyof AiEvent];

/**
 * How each PostgreSQL type of `ai_events` is stored in Parquet (through DuckDB's types) and loaded into BigQuery.
 * Timestamps are UTC microseconds (Parquet TIMESTAMP, isAdjustedToUTC), the cost an exact DECIMAL(20,10) like
 * the table's numeric(20,10) (BigQuery's NUMERIC has only 9 decimal places, so BIGNUMERIC), JSON as its text.
 * UUIDs stay strings: warehouses load them as text, and the id reads the same everywhere.
 */
const TYPES: Record<PgType, { duckdb: string; bigquery: string }> = {
  uuid: { duckdb: 'VARCHAR', bigquery: 'STRING' },
  text: { duckdb: 'VARCHAR', bigquery: 'STRING' },
  int4: { duckdb: 'INTEGER', bigquery: 'INT64' },
  int8: { duckdb: 'BIGINT', bigquery: 'INT64' },
  float8: { duckdb: 'DOUBLE', bigquery: 'FLOAT64' },
  numeric: { duckdb: 'DECIMAL(20,10)', bigquery: 'BIGNUMERIC' },
  bool: { duckdb: 'BOOLEAN', bigquery: 'BOOL' },
  jsonb: { duckdb: 'VARCHAR', bigquery: 'STRING' },
  timestamptz: { duckdb: 'TIMESTAMPTZ', bigquery: 'TIMESTAMP' },
};

export interface ArchiveColumn {
  name: keyof AiEvent;
  pg: PgType;
  duckdb: string;
  bigquery: string;
  nullable: boolean;
}

/** Every column of an archive or Parquet export, in `AI_EVENT_COLUMNS` order, from the one event schema. */
export const ARCHIVE_COLUMNS: readonly ArchiveColumn[] = AI_EVENT_COLUMNS.map((name) => {
  const pg = AI_EVENT_PG_TYPES[name];
  return { name, pg, ...TYPES[pg], nullable: AiEventSchema.shape[name].safeParse(null).success };
});

export interface BigQueryField {
  name: string;
  type: string;
  mode: 'REQUIRED' | 'NULLABLE';
  description?: string;
}

/** The BigQuery table schema (`bq load --schema=<file>`) of the Parquet files. */
export function bigQuerySchema(): BigQueryField[] {
  return ARCHIVE_COLUMNS.map((c) => ({
    name: c.name,
    type: c.bigquery,
    mode: c.nullable ? 'NULLABLE' : 'REQUIRED',
    ...(c.pg === 'jsonb' ? { description: 'JSON text' } : {}),
  }));
}
