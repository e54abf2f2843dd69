import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AI_EVENT_COLUMNS, type AiEvent } from '@observatory/exporter-postgres';
import type pg from 'pg';
import QueryStream from 'pg-query-stream';
import { z } from 'zod';
import { checkout } from '../db/checkout.ts';
import type { SqlStatement } from '../db/sql-statement.ts';
import { EVENT_ROW_TYPES } from './event-rows.ts';
import { eventWhere, type ScopedFilters } from './filters.ts';

const COLUMNS = AI_EVENT_COLUMNS.join(', ');

/** Position after the last item of a page: keyset on (created_at, id), newest first. */
export interface Cursor {
  createdAt: Date;
  id: string;
}

export function encodeCursor(event: Pick<AiEvent, 'created_at' | 'id'>): string {
  return Buffer.from(JSON.stringify([event.created_at.toISOString(), event.id])).toString('base64url');
}

const CursorSchema = z.tuple([z.iso.datetime(), z.uuid()]);

/**
 * Undefined when the text is not a cursor this service issued: only the exact text `encodeCursor` makes is taken
 * (valid JSON of an ISO time and a UUID, encoded the same way again), so no forged value reaches SQL.
 */
export function decodeCursor(text: string): Cursor | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const shape = CursorSchema.safeParse(parsed);
  if (!shape.success) return undefined;
  const cursor = { createdAt: new Date(shape.data[0]), id: shape.data[1] };
  if (Number.isNaN(cursor.createdAt.getTime())) return undefined;
  return encodeCursor({ created_at: cursor.createdAt, id: cursor.id }) === text ? cursor : undefined;
}

export function pageQuery(
  filters: ScopedFilters,
  page: { limit: number; offset: number; cursor?: Cursor },
): SqlStatement {
  const where = eventWhere(filters);
  const values = [...where.values];
  let text = `SELECT ${COLUMNS} FROM ai_events WHERE ${where.text}`;
  if (page.cursor) {
    values.push(page.cursor.createdAt, page.cursor.id);
    text += ` AND (created_at, id) < ($${values.length - 1}, $${values.length})`;
  }
  values.push(page.limit, page.offset);
  text += ` ORDER BY created_at DESC, id DESC LIMIT $${values.length - 1} OFFSET $${values.length}`;
  return { text, values };
}

export function countQuery(filters: ScopedFilters): SqlStatement {
  const where = eventWhere(filters);
  return {
    text: `SELECT count(*)::bigint AS total FROM ai_events WHERE ${where.text}`,
    values: where.values,
  };
}

export function eventByIdQuery(orgId: string, id: string): SqlStatement {
  return { text: `SELECT ${COLUMNS} FROM ai_events WHERE org_id = $1 AND id = $2`, values: [orgId, id] };
}

export interface EventPage {
  total: number;
  items: AiEvent[];
  next_cursor: string | null;
}

export async function listEvents(
  pool: pg.Pool,
  filters: ScopedFilters,
  page: { limit: number; offset: number; cursor?: Cursor },
): Promise<EventPage> {
  const list = pageQuery(filters, page);
  const count = countQuery(filters);
  const [rows, total] = await Promise.all([
    pool.query<AiEvent>({ text: list.text, values: list.values, types: EVENT_ROW_TYPES }),
    pool.query<{ total: string }>(count),
  ]);
  const items = rows.rows;
  const last = items.at(-1);
  return {
    total: Number(total.rows[0]!.total),
    items,
    next_cursor: last && items.length === page.limit ? encodeCursor(last) : null,
  };
}

export async function getEvent(pool: pg.Pool, orgId: string, id: string): Promise<AiEvent | undefined> {
  const query = eventByIdQuery(orgId, id);
  const { rows } = await pool.query<AiEvent>({ ...query, types: EVENT_ROW_TYPES });
  return rows[0];
}

/**
 * The events matching `filters`, newest first, as an object stream read from a server-side cursor: rows are fetched
 * in batches as the consumer reads, so memory stays flat however many there are. The connection goes back to the
 * pool when the stream ends, fails or is destroyed (a client that hangs up).
 */
export async function streamEvents(pool: pg.Pool, filters: ScopedFilters, limit: number): Promise<Readable> {
  const where = eventWhere(filters);
  const text = `SELECT ${COLUMNS} FROM ai_events WHERE ${where.text} ORDER BY created_at DESC, id DESC LIMIT $${where.values.length + 1}`;
  const { client, release } = await checkout(pool);
  const rows = client.query(
    new QueryStream(text, [...where.values, limit], { batchSize: 1000, types: EVENT_ROW_TYPES }),
  );
  const out = new Transform({ objectMode: true, transform: (row, _e, cb) => cb(null, row) });
  pipeline(rows, out).then(
    () => release(),
    () => release(true),
  );
  return out;
}
