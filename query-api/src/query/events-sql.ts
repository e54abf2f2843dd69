import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AI_EVENT_COLUMNS, type AiEvent } from '@observatory/exporter-postgres';
import type pg from 'pg';
import QueryStream from 'pg-query-stream';
import { z } from 'zod';
import { checkout } from '../db/checkout.ts';
import type { SqlStatement } from '../db/sql-statement.ts';
import { eventIdMillis } from './event-id-time.ts';
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

/** `total` is exact up to this many matches; past it, the planner's estimate (`total_is_estimate`). */
export const TOTAL_COUNT_CAP = 1000;

/** Counts at most `cap + 1` matches, so the cost of a count stays bounded however many events the org holds. */
export function cappedCountQuery(filters: ScopedFilters, cap = TOTAL_COUNT_CAP): SqlStatement {
  const where = eventWhere(filters);
  return {
    text: `SELECT count(*)::int AS total FROM (SELECT 1 FROM ai_events WHERE ${where.text} LIMIT $${where.values.length + 1}) AS capped`,
    values: [...where.values, cap + 1],
  };
}

/** The planner's row estimate for the filters: a plan, not a scan. */
export function estimateQuery(filters: ScopedFilters): SqlStatement {
  const where = eventWhere(filters);
  return { text: `EXPLAIN (FORMAT JSON) SELECT 1 FROM ai_events WHERE ${where.text}`, values: where.values };
}

/**
 * One event by id, through two indexed paths that between them hold every row: an id with the service's UUIDv7
 * layout names its `created_at` (the primary key finds it within that millisecond), and any row whose id does not
 * match its time (an id a client supplied) is in the partial index `ai_events_foreign_id_idx`.
 */
export function eventByIdQuery(orgId: string, id: string): SqlStatement {
  const foreign = `SELECT ${COLUMNS} FROM ai_events WHERE org_id = $1 AND id = $2 AND NOT ai_event_id_matches_time(id, created_at)`;
  const ms = eventIdMillis(id);
  if (ms === undefined) return { text: foreign, values: [orgId, id] };
  return {
    text: `(SELECT ${COLUMNS} FROM ai_events WHERE org_id = $1 AND id = $2 AND created_at >= $3 AND created_at < $4) UNION ALL (${foreign}) LIMIT 1`,
    values: [orgId, id, new Date(ms), new Date(ms + 1)],
  };
}

export interface EventPage {
  total: number;
  total_is_estimate: boolean;
  items: AiEvent[];
  next_cursor: string | null;
}

/** Longest a page's count may run before `total` falls back to the estimate; the page itself runs beside it. */
export const COUNT_TIME_BUDGET_MS = 25;

const QUERY_CANCELED = '57014';

async function countEvents(
  pool: pg.Pool,
  filters: ScopedFilters,
  budgetMs: number,
): Promise<Pick<EventPage, 'total' | 'total_is_estimate'>> {
  const { client, release } = await checkout(pool);
  try {
    // Filters no index serves (a rare endpoint) make even a capped count scan far: bound it by time as well. The
    // transaction opens and takes the bound in one round trip (a constant text, so no parameters are needed), and
    // the estimate reuses the connection: round trips, not the count itself, are most of a page's cost.
    await client.query(`BEGIN; SET LOCAL statement_timeout = ${Math.round(budgetMs)}`);
    let counted: number | undefined;
    try {
      counted = (await client.query<{ total: number }>(cappedCountQuery(filters))).rows[0]!.total;
    } catch (err) {
      if ((err as { code?: unknown }).code !== QUERY_CANCELED) throw err;
    }
    // Ends the transaction either way (after a cancelled count, COMMIT rolls back).
    await client.query('COMMIT');
    if (counted !== undefined && counted <= TOTAL_COUNT_CAP)
      return { total: counted, total_is_estimate: false };
    const plan = (
      await client.query<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(estimateQuery(filters))
    ).rows[0]!['QUERY PLAN'][0].Plan['Plan Rows'];
    // A count that finished past the cap is a floor the estimate must not undercut.
    return { total: Math.max(counted ?? 0, Math.round(plan)), total_is_estimate: true };
  } catch (err) {
    // A connection left inside the transaction (or lost) must not go back to the pool.
    release(true);
    throw err;
  } finally {
    release();
  }
}

/** Filters that match a handful of events (one trace or request): their first page is their whole answer. */
const isNarrow = (filters: ScopedFilters) =>
  filters.trace_id !== undefined || filters.request_id !== undefined;

export async function listEvents(
  pool: pg.Pool,
  filters: ScopedFilters,
  page: { limit: number; offset: number; cursor?: Cursor },
  countBudgetMs: number = COUNT_TIME_BUDGET_MS,
): Promise<EventPage> {
  const list = pageQuery(filters, page);
  const readPage = async () =>
    (await pool.query<AiEvent>({ text: list.text, values: list.values, types: EVENT_ROW_TYPES })).rows;
  // A first page that is not full holds every match: its length is the exact total.
  const whole = (items: AiEvent[]) => page.offset === 0 && !page.cursor && items.length < page.limit;
  let items: AiEvent[];
  let total: Pick<EventPage, 'total' | 'total_is_estimate'>;
  if (isNarrow(filters)) {
    // Page first: for a trace or a request it is nearly always whole, and then the count is never run.
    items = await readPage();
    total = whole(items)
      ? { total: items.length, total_is_estimate: false }
      : await countEvents(pool, filters, countBudgetMs);
  } else {
    [items, total] = await Promise.all([readPage(), countEvents(pool, filters, countBudgetMs)]);
    // A count that ran out of time left an estimate, which the page itself may contradict.
    if (total.total_is_estimate && whole(items)) total = { total: items.length, total_is_estimate: false };
    else if (total.total_is_estimate)
      total = { ...total, total: Math.max(total.total, page.offset + items.length) };
  }
  const last = items.at(-1);
  return {
    ...total,
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
  const { stream, release } = await checkout(pool);
  const rows = stream(
    new QueryStream(text, [...where.values, limit], { batchSize: 1000, types: EVENT_ROW_TYPES }),
  );
  const out = new Transform({ objectMode: true, transform: (row, _e, cb) => cb(null, row) });
  pipeline(rows, out).then(
    () => release(),
    () => release(true),
  );
  return out;
}
