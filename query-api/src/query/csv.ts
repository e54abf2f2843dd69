import { Transform } from 'node:stream';
import { AI_EVENT_COLUMNS, type AiEvent } from '@observatory/exporter-postgres';
import { type Stringifier, stringify } from 'csv-stringify';

export const CSV_COLUMNS = AI_EVENT_COLUMNS;

// A spreadsheet treats a cell starting with one of these as a formula; a leading quote makes it text.
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return FORMULA_START.test(text) ? `'${text}` : text;
}

export function csvRow(event: AiEvent): string[] {
  return CSV_COLUMNS.map((column) => csvCell(event[column]));
}

/**
 * The two stages that turn events (object mode) into CSV text with a header row, quoted per RFC 4180:
 * spread them into `pipeline(source, ...eventCsvStages(), destination)`.
 */
export function eventCsvStages(): [Transform, Stringifier] {
  const toRow = new Transform({
    objectMode: true,
    transform(event: AiEvent, _encoding, callback) {
      callback(null, csvRow(event));
    },
  });
  return [toRow, stringify({ header: true, columns: [...CSV_COLUMNS] })];
}
