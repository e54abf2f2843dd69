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

/** One page of an org's log lines, newest first; keyset on (time, id) so every page costs the same. */
export async function listLogs(
  pool: pg.Pool,
  orgId: string,
  filters: LogFilters,
  page: { limit: number; cursor?: Cursor | undefined },
): Promise<LogPage> {
  const where = logWhere(orgId, filters);
  const values = [...where.values];
  let text = `SELECT ${LOG_COLUMNS} FROM structured_logs WHERE ${where.text}`;
  if (page.cursor) {
    values.push(page.cursor.createdAt, page.cursor.id);
    text += ` AND (time, id) < ($${values.length - 1}, $${values.length})`;
  }
  values.push(page.limit);
  text += ` ORDER BY time DESC, id DESC LIMIT $${values.length}`;
  const items = await withTransaction(pool, async (client) => {
    await client.query(`SET LOCAL statement_timeout = ${LOG_QUERY_BUDGET_MS}`);
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
