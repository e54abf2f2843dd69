import { Transform } from 'node:stream';
import type pg from 'pg';

/**
 * Type parsers that leave every value as PostgreSQL's text: numeric stays exact, timestamps keep their
 * microseconds and offset, jsonb stays the text it was stored as.
 */
export const RAW_TEXT_TYPES = {
  getTypeParser: (() => (value: string) => value) as unknown as typeof pg.types.getTypeParser,
};

function field(value: string | null): string {
  return value === null ? '' : `"${value.replaceAll('"', '""')}"`;
}

/**
 * Rows (array mode, text values) as CSV lines for DuckDB's `read_csv`: every value quoted, null as an empty
 * unquoted field, so that an empty string and null stay apart.
 */
export function csvLines(onRow: () => void = () => {}): Transform {
  return new Transform({
    writableObjectMode: true,
    transform(row: (string | null)[], _encoding, callback) {
      onRow();
      let line = field(row[0] ?? null);
      for (let i = 1; i < row.length; i++) line += `,${field(row[i] ?? null)}`;
      callback(null, `${line}\n`);
    },
  });
}
