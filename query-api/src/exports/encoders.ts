import { Transform } from 'node:stream';
import type { AiEvent } from '@observatory/exporter-postgres';
import { csvLines } from '../archive/csv-lines.ts';
import { eventCsvStream } from '../query/csv.ts';
import type { ExportFormat } from './job.ts';

/** One JSON object per line. */
function jsonLines(): Transform {
  return new Transform({
    writableObjectMode: true,
    transform(event: AiEvent, _encoding, callback) {
      callback(null, `${JSON.stringify(event)}\n`);
    },
  });
}

/** A JSON array written element by element, so it never has to be held whole. */
function jsonArray(): Transform {
  let first = true;
  return new Transform({
    writableObjectMode: true,
    transform(event: AiEvent, _encoding, callback) {
      callback(null, `${first ? '[\n' : ',\n'}${JSON.stringify(event)}`);
      first = false;
    },
    flush(callback) {
      callback(null, first ? '[]\n' : '\n]\n');
    },
  });
}

/**
 * Stages turning events (object mode) into the bytes of an export file of `format`. Parquet's stage writes the CSV
 * DuckDB turns into the Parquet file afterwards, from rows of PostgreSQL's text (`RAW_TEXT_TYPES`, array mode).
 */
export function encoderStages(format: ExportFormat): Transform[] {
  switch (format) {
    case 'parquet':
      return [csvLines()];
    case 'csv':
      return [eventCsvStream()];
    case 'json':
      return [jsonArray()];
    case 'jsonl':
      return [jsonLines()];
  }
}

export function fileExtension(format: ExportFormat, gzip: boolean): string {
  return gzip && format !== 'parquet' ? `${format}.gz` : format;
}

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  json: 'application/json',
  jsonl: 'application/jsonl',
  parquet: 'application/vnd.apache.parquet',
};
