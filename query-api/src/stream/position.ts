import { z } from '@hono/zod-openapi';
import { AI_EVENT_COLUMNS, type AiEvent } from '@observatory/exporter-postgres';
import { ProblemError } from '../http/problem.ts';

/**
 * A place in the live stream: the inserting transaction's id (`ai_events.xact_id`) and the event id. Only rows whose
 * transaction is below the horizon (HORIZON_SQL: the oldest transaction of this database still running) are ever
 * sent: every transaction below it has ended, so that prefix of (xact_id, id) order never changes and a
 * client resuming after any position it was sent misses nothing. Rows from before migration 0044 have no xact_id and
 * sit before every position (`xid` 0).
 */
export interface StreamPosition {
  xid: bigint;
  id: string;
}

/** An event as the stream reads it: the row plus its transaction id as text (NULL for rows before 0044). */
export type PositionedRow = AiEvent & { stream_xid: string | null };

/** The select list of stream reads: the AiEvent columns, then `stream_xid`. */
export const POSITIONED_COLUMNS = `${AI_EVENT_COLUMNS.join(', ')}, xact_id::text AS stream_xid`;

/**
 * The horizon as an SQL expression (xid8): rows of transactions below it are final. It is the oldest transaction
 * the statement's snapshot sees running, skipping those known to run in another database of the same server (a
 * long migration or batch there must not hold this service's stream back); a transaction that has ended since the
 * snapshot, or whose database cannot be seen (another role's session without pg_read_all_stats, a prepared
 * transaction), still counts, so the horizon is never later than it may be.
 */
export const HORIZON_SQL = `(SELECT coalesce(
    (SELECT min(x) FROM pg_snapshot_xip(s) AS x
      WHERE x::xid NOT IN (
        SELECT a.backend_xid FROM pg_stat_activity a
         WHERE a.backend_xid IS NOT NULL AND a.datname <> current_database()
        UNION ALL
        SELECT p.transaction FROM pg_prepared_xacts p WHERE p.database <> current_database())),
    pg_snapshot_xmax(s))
  FROM pg_current_snapshot() AS s)`;

/** Splits a row read with POSITIONED_COLUMNS into the event (what clients get) and its position. */
export function positioned(row: PositionedRow): { event: AiEvent; position: StreamPosition } {
  const { stream_xid, ...event } = row;
  return { event, position: { xid: BigInt(stream_xid ?? 0), id: event.id } };
}

export function isAfter(a: StreamPosition, b: StreamPosition): boolean {
  return a.xid > b.xid || (a.xid === b.xid && a.id > b.id);
}

/** The SSE id of an event: its position, which is what a reconnect resumes from. */
export function streamId(position: StreamPosition): string {
  return `${position.xid}_${position.id}`;
}

/**
 * Where a `Last-Event-ID` says to resume: a position (`<xid>_<id>`), or, for an id from before positions were in
 * commit order (`<received_at ISO>_<id>`), the time from which to replay. 400 for anything else.
 */
export type ResumeFrom = { position: StreamPosition } | { receivedAfter: { at: Date; id: string } };

export function parseLastEventId(text: string | undefined): ResumeFrom | undefined {
  if (!text) return undefined;
  const match = /^(.+)_([0-9a-f-]{36})$/.exec(text);
  const id = match && z.uuid().safeParse(match[2]).success ? match[2]! : undefined;
  if (match && id) {
    const head = match[1]!;
    if (/^(0|[1-9][0-9]{0,19})$/.test(head) && BigInt(head) < 2n ** 64n) {
      return { position: { xid: BigInt(head), id } };
    }
    if (z.iso.datetime().safeParse(head).success && new Date(head).toISOString() === head) {
      return { receivedAfter: { at: new Date(head), id } };
    }
  }
  throw new ProblemError(400, 'Last-Event-ID: not an event id this service sent', {
    errors: [{ field: 'Last-Event-ID', message: 'invalid' }],
  });
}
