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

type Encode = (value: unknown) => string;

const text: Encode = (value) => escaped(typeof value === 'string' ? value : String(value));
const json: Encode = (value) => escaped(JSON.stringify(value));
const plain: Encode = (value) => (typeof value === 'string' ? escaped(value) : String(value));
const bool: Encode = (value) => (typeof value === 'boolean' ? (value ? 't' : 'f') : text(value));

/** Dates: a batch shares its `received_at` Date, so the last one's text is kept. */
function timestamps(): Encode {
  let last: unknown;
  let lastText = '';
  return (value) => {
    if (value !== last) {
      last = value;
      lastText = value instanceof Date ? value.toISOString() : escaped(String(value));
    }
    return lastText;
  };
}

function encoderOf(type: string): Encode {
  if (type === 'jsonb') return json;
  if (type === 'bool') return bool;
  if (type === 'timestamptz') return timestamps();
  if (type.startsWith('int') || type.startsWith('float') || type === 'numeric') return plain;
  return text;
}

/** Encodes rows for `COPY … FROM STDIN`, one line per row, columns in `columns`' order. */
export function copyLines<T>(
  rows: readonly T[],
  columns: readonly (keyof T & string)[],
  types: Record<keyof T, string>,
): string[] {
  const encoders = columns.map((c) => encoderOf(types[c]));
  const lines: string[] = new Array(rows.length);
  // A line is joined from its fields rather than built with `+=`: that makes a rope of two string objects per column,
  // and the writer keeps the lines through the COPY (to split a refused batch), long enough for the garbage collector
  // to move every piece to the old generation. Joined, a line is one flat string: 3 µs a row instead of 8.
  const fields: string[] = new Array(columns.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    for (let c = 0; c < columns.length; c++) {
      const value = row[columns[c]!];
      fields[c] = value === null || value === undefined ? '\\N' : encoders[c]!(value);
    }
    lines[r] = `${fields.join('\t')}\n`;
  }
  return lines;
}
