import { LOG_ROW_COLUMNS, type LogRow } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { withTransaction } from '../db/transaction.ts';
import { ProblemError } from '../http/problem.ts';
import { type Cursor, encodeCursor } from '../query/events-sql.ts';
import { type LogFilters, logWhere } from './log-filters.ts';

export const LOG_COLUMNS = LOG_ROW_COLUMNS.join(', ');

/** Longest one page of logs may take; a search no index narrows enough is cancelled (503) rather than left running. */
export const LOG_QUERY_BUDGET_MS = 5_000;

const QUERY_CANCELED = '57014';

export interface LogPage {
  items: LogRow[];
  next_cursor: string | null;
}

/**
 * Rows a text search first reads newest first by the primary key before it asks the trigram index: a common term
 * fills a page within them at a bounded cost, where the index would fetch every match of the window (or month).
 */
export const RECENT_SCAN_ROWS = 20_000;

/** One page of an org's log lines, newest first; keyset on (time, id) so every page costs the same. */
export async function listLogs(
  pool: pg.Pool,
  orgId: string,
  filters: LogFilters,
  page: { limit: number; cursor?: Cursor | undefined },
): Promise<LogPage> {
  const where = logWhere(orgId, filters);
  const values = [...where.values];
  let position = '';
  if (page.cursor) {
    values.push(page.cursor.createdAt, page.cursor.id);
    position = ` AND (time, id) < ($${values.length - 1}, $${values.length})`;
  }
  values.push(page.limit);
  const order = ` ORDER BY time DESC, id DESC LIMIT $${values.length}`;
  const text = `SELECT ${LOG_COLUMNS} FROM structured_logs WHERE ${where.text}${position}${order}`;
  // The text clauses come last in logWhere: without them the same WHERE is the scope the recent scan reads.
  const scope = logWhere(orgId, { ...filters, q: undefined }).text;
  const recent =
    filters.q === undefined || where.text === scope
      ? undefined
      : `SELECT ${LOG_COLUMNS} FROM (SELECT ${LOG_COLUMNS} FROM structured_logs WHERE ${scope}${position}
           ORDER BY time DESC, id DESC LIMIT ${RECENT_SCAN_ROWS}) recent
         WHERE ${where.text.slice(scope.length + ' AND '.length)}${order}`;
  const items = await withTransaction(pool, async (client) => {
    await client.query(`SET LOCAL statement_timeout = ${LOG_QUERY_BUDGET_MS}`);
    if (recent) {
      // A full page among the newest rows is the newest page of all matches; otherwise the index finds the rest.
      const found = (await client.query<LogRow>(recent, values)).rows;
      if (found.length === page.limit) return found;
    }
    return (await client.query<LogRow>(text, values)).rows;
  }).catch((err: unknown) => {
    if ((err as { code?: unknown }).code !== QUERY_CANCELED) throw err;
    throw new ProblemError(
      503,
      `The log search took longer than ${LOG_QUERY_BUDGET_MS} ms; narrow date_from/date_to or the text`,
      {},
      { 'Retry-After': '1' },
    );
  });
  const last = items.at(-1);
  return {
    items,
    next_cursor:
      last && items.length === page.limit ? encodeCursor({ created_at: last.time, id: last.id }) : null,
  };
}
