/**
 * Rows as lines of PostgreSQL's COPY text format (postgresql.org/docs/current/sql-copy.html, "Text Format"): columns
 * separated by tabs, `\N` for null, backslash, tab, newline and carriage return escaped. Values are written as
 * the `unnest` writer's array parameters wrote them (dates as ISO 8601, jsonb as JSON text, numbers in JavaScript's
 * shortest round-trip form), so a row stored either way is the same row.
 */
const SPECIAL = /[\\\t\n\r]/;
const ESCAPES = /[\\\t\n\r]/g;
const ESCAPED: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function escaped(text: string): string {
  return SPECIAL.test(text) ? text.replace(ESCAPES, (c) => ESCAPED[c]!) : text;
}

function field(value: unknown, json: boolean): string {
  if (value === null || value === undefined) return '\\N';
  if (json) return escaped(JSON.stringify(value));
  switch (typeof value) {
    case 'string':
      return escaped(value);
    case 'number':
    case 'bigint':
      return String(value);
    case 'boolean':
      return value ? 't' : 'f';
    default:
      return value instanceof Date ? value.toISOString() : escaped(String(value));
  }
}

/** Encodes rows for `COPY … FROM STDIN`, one line per row, columns in `columns`' order. */
export function copyLines<T>(
  rows: readonly T[],
  columns: readonly (keyof T & string)[],
  types: Record<keyof T, string>,
): string[] {
  const json = columns.map((c) => types[c] === 'jsonb');
  const lines: string[] = new Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    let line = '';
    for (let c = 0; c < columns.length; c++) {
      if (c > 0) line += '\t';
      line += field(row[columns[c]!], json[c]!);
    }
    lines[r] = `${line}\n`;
  }
  return lines;
}
