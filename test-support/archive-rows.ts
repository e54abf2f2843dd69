import { AI_EVENT_COLUMNS } from '@observatory/exporter-postgres';
import type pg from 'pg';

/** Varied edge rows on top of `seedEvents`: empty strings against nulls, quotes, newlines, unicode, microseconds. */
export async function seedEdgeEvents(pool: pg.Pool, orgId: string, at: Date): Promise<void> {
  await pool.query(
    `INSERT INTO ai_events (id, org_id, client_id, user_id, endpoint, operation, provider, model_name, input_tokens,
       reasoning_tokens, output_size_bytes, latency_ms, compute_ms, ttft_ms, cost_usd, cost_source, success,
       error_message, fallback_used, fallback_model, provenance, tags, consent, created_at, received_at)
     VALUES
       (gen_random_uuid(), $1, '', '', '', 'chat', 'openai', 'gpt-4o', 0, 2147483647, 9007199254740991, 0.000001,
        12.75, 3.5, 899999.9999999999, 'provided', true, '', true, 'gpt-4o-mini',
        '{"source": "span", "nested": {"a": [1, 2, "x\\"y"]}}', '{"émoji": "☃", "quote": "\\""}', true,
        $2::timestamptz + interval '123456 microseconds', $2::timestamptz + interval '1 second 654321 microseconds'),
       (gen_random_uuid(), $1, NULL, NULL, NULL, NULL, NULL, 'claude-3', NULL, NULL, NULL, 1, NULL, NULL,
        0.0000000001, 'computed', false, 'multi' || chr(10) || 'line, "quoted"', false, NULL, NULL, '{}', false,
        $2::timestamptz + interval '999999 microseconds', $2::timestamptz)`,
    [orgId, at],
  );
}

/**
 * The org's rows in [from, to) as PostgreSQL prints them (text, exact), timestamps as microseconds since the
 * epoch, ordered by time and id: the reference archive files and restored rows are compared with.
 */
export async function textRows(pool: pg.Pool, orgId: string, from: Date, to: Date) {
  const columns = AI_EVENT_COLUMNS.map((c) =>
    c === 'created_at' || c === 'received_at'
      ? `(extract(epoch FROM ${c}) * 1000000)::bigint::text AS ${c}`
      : `${c}::text AS ${c}`,
  );
  const { rows } = await pool.query<Record<string, string | null>>(
    `SELECT ${columns.join(', ')} FROM ai_events
     WHERE org_id = $1 AND created_at >= $2 AND created_at < $3 ORDER BY created_at, id`,
    [orgId, from, to],
  );
  return rows;
}
