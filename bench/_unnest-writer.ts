/**
 * The writer the COPY writer replaced (one `INSERT … SELECT FROM unnest($1::type[], …) ON CONFLICT DO NOTHING` per
 * batch), kept for the ingest benchmark only: the baseline the COPY writer is measured against in the same run.
 */
import type pg from 'pg';

export function unnestWriter<T>(
  pool: pg.Pool,
  table: string,
  columns: readonly (keyof T & string)[],
  types: Record<keyof T, string>,
): { encode(rows: readonly T[]): unknown[][]; write(rows: readonly T[]): Promise<number> } {
  const sql = `INSERT INTO ${table} (${columns.join(', ')})
SELECT * FROM unnest(${columns.map((c, i) => `$${i + 1}::${types[c]}[]`).join(', ')})
ON CONFLICT DO NOTHING`;
  const encode = (rows: readonly T[]) =>
    columns.map((column) =>
      rows.map((row) => {
        const value = row[column];
        if (value === null || value === undefined) return null;
        if (types[column] === 'jsonb') return JSON.stringify(value);
        if (value instanceof Date) return value.toISOString();
        return value;
      }),
    );
  return {
    encode,
    async write(rows) {
      return (await pool.query(sql, encode(rows))).rowCount ?? 0;
    },
  };
}
