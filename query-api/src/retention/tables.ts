import { ROLLUP_TABLES, STRUCTURED_LOGS_TABLE } from '@observatory/exporter-postgres';
import type { SettingName } from '../settings/schema.ts';

/**
 * A table whose rows the retention job removes once they are older than an org's setting allows: rows whose
 * `timeColumn` is before (start of today, UTC) − `setting` days, per `org_id`, in bounded batches and unarchived
 * (summaries and logs, not the raw events: those are archived first, see `raw-events.ts`).
 */
export interface RetentionTable {
  table: string;
  timeColumn: string;
  setting: SettingName;
}

/**
 * Every table under a retention setting besides `ai_events`: the spans around model calls and the per-trace and
 * per-session summaries (`retention_days`, like the events; their figures live in the events and rollups, so they
 * are not archived), the hourly and daily rollups (`rollup_retention_days`), structured logs (`log_retention_days`)
 * and decision traces (captured content): past `trace_retention_days`, and never kept past their event
 * (`retention_days`), so whichever comes first.
 */
export const RETENTION_TABLES: readonly RetentionTable[] = [
  { table: 'ai_spans', timeColumn: 'created_at', setting: 'retention_days' },
  // Trace and session summaries go with the rows they sum (`ai_traces`, `ai_sessions`: migrations 0030, 0031).
  { table: 'ai_traces', timeColumn: 'started_at', setting: 'retention_days' },
  { table: 'ai_sessions', timeColumn: 'last_seen', setting: 'retention_days' },
  ...ROLLUP_TABLES.map(({ table, timeColumn }) => ({
    table,
    timeColumn,
    setting: 'rollup_retention_days' as const,
  })),
  { ...STRUCTURED_LOGS_TABLE, setting: 'log_retention_days' },
  { table: 'ai_event_content', timeColumn: 'created_at', setting: 'trace_retention_days' },
  { table: 'ai_event_content', timeColumn: 'created_at', setting: 'retention_days' },
];
