import type pg from 'pg';
import { createRowWriter, type RowWriter } from '../pipeline/writer.ts';
import { LOG_ROW_COLUMNS, type LogRow } from './log-row.ts';

const LOG_COLUMN_TYPES: Record<keyof LogRow, string> = {
  id: 'uuid',
  org_id: 'text',
  time: 'timestamptz',
  observed_time: 'timestamptz',
  received_at: 'timestamptz',
  severity_number: 'int2',
  severity_text: 'text',
  service_name: 'text',
  scope_name: 'text',
  body: 'text',
  trace_id: 'text',
  span_id: 'text',
  attributes: 'jsonb',
};

/** Date fields of a LogRow, for the spill file's replay. */
export const LOG_DATE_FIELDS = ['time', 'observed_time', 'received_at'] as const;

export function createLogWriter(pool: pg.Pool): RowWriter<LogRow> {
  return createRowWriter(pool, 'structured_logs', LOG_ROW_COLUMNS, LOG_COLUMN_TYPES);
}
