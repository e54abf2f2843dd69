import type pg from 'pg';
import type { StoredRow } from '../ai-span.ts';
import type { Database, WriteResult } from '../pipeline/writer.ts';
import { isRetryable } from '../pipeline/writer.ts';

/**
 * A row of `ai_event_content` as the ingest pipeline carries it: already encrypted (base64), so neither the queue
 * nor the spill file ever holds plaintext content.
 */
export interface EventContentRow {
  event_id: string;
  org_id: string;
  created_at: Date;
  /** Base64 of the sealed content (`envelope.ts`). */
  ciphertext: string;
}

export const isEventContent = (row: StoredRow): row is EventContentRow => 'ciphertext' in row;

// Not checked against ai_events: a request's rows may be split over two batches written at once, so the event may
// commit after its content. A row whose event was refused is only ever read through that event (so never), and
// leaves with the org's trace retention.
const INSERT = `INSERT INTO ai_event_content (org_id, created_at, event_id, ciphertext)
SELECT org_id, created_at, event_id, decode(ciphertext, 'base64')
FROM unnest($1::text[], $2::timestamptz[], $3::uuid[], $4::text[]) AS c(org_id, created_at, event_id, ciphertext)
ON CONFLICT DO NOTHING`;

/** Writes content rows after their events, idempotently (a re-delivered batch is a no-op). */
export async function writeContentRows(
  pool: Database,
  rows: readonly EventContentRow[],
): Promise<WriteResult> {
  if (rows.length === 0) return { kind: 'success', inserted: 0, rejected: 0 };
  try {
    await pool.query(INSERT, [
      rows.map((r) => r.org_id),
      rows.map((r) => r.created_at.toISOString()),
      rows.map((r) => r.event_id),
      rows.map((r) => r.ciphertext),
    ]);
    // Not counted as stored rows: the events they belong to are.
    return { kind: 'success', inserted: 0, rejected: 0 };
  } catch (err) {
    return isRetryable(err)
      ? { kind: 'retryable', error: err as Error }
      : { kind: 'failure', error: err as Error };
  }
}
