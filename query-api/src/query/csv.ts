import { Transform } from 'node:stream';
import { AI_EVENT_COLUMNS, type AiEvent } from '@observatory/exporter-postgres';

export const CSV_COLUMNS = AI_EVENT_COLUMNS;

// A spreadsheet treats a cell starting with one of these as a formula; a leading quote makes it text.
const FORMULA_START = /^[=+\-@\t\r]/;
// RFC 4180: a field holding a quote, comma or line break is quoted, its quotes doubled.
const NEEDS_QUOTES = /[",\r\n]/;

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return FORMULA_START.test(text) ? `'${text}` : text;
}

function quote(cell: string): string {
  return NEEDS_QUOTES.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell;
}

export function csvRow(event: AiEvent): string[] {
  return CSV_COLUMNS.map((column) => csvCell(event[column]));
}

export function csvLine(cells: readonly string[]): string {
  return `${cells.map(quote).join(',')}\n`;
}

/**
 * Turns events (object mode) into CSV text with a header row, quoted per RFC 4180 and neutralised against
 * spreadsheet formulas. Written out here rather than through a general CSV library: the quoting rule is two lines,
 * and this stream is the hot loop of every CSV download and export.
 */
export function eventCsvStream(): Transform {
  let header = true;
  return new Transform({
    writableObjectMode: true,
    transform(event: AiEvent, _encoding, callback) {
      const line = csvLine(csvRow(event));
      if (header) {
        header = false;
        callback(null, csvLine(CSV_COLUMNS) + line);
      } else callback(null, line);
    },
    flush(callback) {
      callback(null, header ? csvLine(CSV_COLUMNS) : '');
    },
  });
}
