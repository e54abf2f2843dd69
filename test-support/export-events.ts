import { gunzipSync } from 'node:zlib';
import { AI_EVENT_COLUMNS } from '@observatory/exporter-postgres';
import { parse as parseCsv } from 'csv-parse/sync';
import type pg from 'pg';
import { csvRow } from '../query-api/src/query/csv.ts';
import { type EventFilters, eventWhere } from '../query-api/src/query/filters.ts';

/**
 * Inserts `count` varied events for `orgId`, one a second back from `newest`: three models, failures with
 * messages that need CSV quoting and formula neutralisation, unpriced calls, fallbacks, JSON tags.
 */
export async function seedEvents(
  pool: pg.Pool,
  orgId: string,
  count: number,
  newest = new Date(),
): Promise<void> {
  await pool.query('INSERT INTO orgs (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING', [orgId]);
  await pool.query(
    `INSERT INTO ai_events (id, org_id, user_id, request_id, trace_id, endpoint, model_name, input_tokens,
       output_tokens, input_size_bytes, latency_ms, cost_usd, cost_source, success, error_code, error_message,
       fallback_used, tags, created_at)
     SELECT gen_random_uuid(), $1, 'u' || (i % 7), 'r' || i, md5(i::text), '/v1/chat',
       (ARRAY['gpt-4o', 'claude-3', 'llama-3'])[1 + i % 3], i % 1000, i % 500, i * 10, (i % 997) * 1.5,
       CASE WHEN i % 4 = 0 THEN NULL ELSE ((i % 100) / 1000.0)::numeric END,
       CASE WHEN i % 4 = 0 THEN 'unpriced' ELSE 'computed' END,
       i % 5 <> 0,
       CASE WHEN i % 5 = 0 THEN 'rate_limit' END,
       CASE WHEN i % 5 = 0 THEN '=HYPERLINK("x"), "quoted", comma' || chr(10) || 'line ' || i END,
       i % 6 = 0, jsonb_build_object('k', i, 'note', 'a,"b"'), $2::timestamptz - make_interval(secs => i)
     FROM generate_series(1, $3) AS i`,
    [orgId, newest, count],
  );
}

/** The events `filters` select, straight from SQL, newest first, as JSON values (bigints as numbers). */
export async function selectEvents(pool: pg.Pool, filters: EventFilters & { org_id: string }) {
  const where = eventWhere(filters);
  const { rows } = await pool.query(
    `SELECT ${AI_EVENT_COLUMNS.join(', ')} FROM ai_events WHERE ${where.text} ORDER BY created_at DESC, id DESC`,
    where.values,
  );
  return rows.map((row) =>
    JSON.parse(
      JSON.stringify({
        ...row,
        input_size_bytes: row.input_size_bytes === null ? null : Number(row.input_size_bytes),
        output_size_bytes: row.output_size_bytes === null ? null : Number(row.output_size_bytes),
      }),
    ),
  );
}

/** Decodes an export file into rows: objects for json/jsonl, string arrays (after the header) for csv. */
export function decodeExport(file: Buffer, format: 'csv' | 'json' | 'jsonl', gzip: boolean) {
  const text = (gzip ? gunzipSync(file) : file).toString('utf8');
  if (format === 'json') return { rows: JSON.parse(text) as unknown[] };
  if (format === 'jsonl')
    return {
      rows: text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line)),
    };
  const [header, ...rows] = parseCsv(text) as string[][];
  return { header, rows };
}

/** What the CSV rows of `events` (as returned by selectEvents) must be. */
export function expectedCsvRows(events: Record<string, unknown>[]): string[][] {
  return events.map((e) =>
    csvRow({
      ...e,
      created_at: new Date(e.created_at as string),
      received_at: new Date(e.received_at as string),
    } as never),
  );
}
