import type pg from 'pg';
import { EVENT_ROW_TYPES } from '../query/event-rows.ts';
import { encodeKeyCursor, type KeyCursor } from './cursor.ts';
import {
  type GroupFilters,
  MAX_SESSION_TRACES,
  MAX_TREE_ROWS,
  sessionQuery,
  sessionsQuery,
  sessionTracesQuery,
  traceRowsQuery,
  tracesQuery,
  type Window,
} from './sql.ts';
import { buildTraceTree, type TraceRow, type TraceTree } from './tree.ts';

export interface TraceSummary {
  trace_id: string;
  started_at: Date;
  duration_ms: number;
  root_name: string;
  service_name: string | null;
  spans: number;
  model_calls: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: string;
  has_errors: boolean;
}

export interface SessionSummary {
  session_id: string;
  first_seen: Date;
  last_seen: Date;
  traces: number;
  model_calls: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: string;
  errors: number;
  failed_spans: number;
  users: number;
}

/** A page of the newest traces of a window; each with the totals of the whole trace. */
export async function listTraces(
  pool: pg.Pool,
  window: Window,
  filters: GroupFilters,
  page: { limit: number; cursor?: KeyCursor | undefined },
): Promise<{ items: TraceSummary[]; next_cursor: string | null }> {
  const { rows } = await pool.query<TraceSummary>({
    ...tracesQuery(window, filters, page),
    types: EVENT_ROW_TYPES,
  });
  const last = rows.at(-1);
  return {
    items: rows,
    next_cursor:
      last && rows.length === page.limit ? encodeKeyCursor({ at: last.started_at, id: last.trace_id }) : null,
  };
}

/** The tree of one trace of the org, or undefined when the org has no row of it. */
export async function getTrace(
  pool: pg.Pool,
  orgId: string,
  traceId: string,
): Promise<(TraceTree & { trace_id: string; truncated: boolean }) | undefined> {
  const { rows } = await pool.query<TraceRow>({ ...traceRowsQuery(orgId, traceId), types: EVENT_ROW_TYPES });
  if (rows.length === 0) return undefined;
  const truncated = rows.length > MAX_TREE_ROWS;
  return { trace_id: traceId, truncated, ...buildTraceTree(truncated ? rows.slice(0, MAX_TREE_ROWS) : rows) };
}

export async function listSessions(
  pool: pg.Pool,
  window: Window,
  filters: Omit<GroupFilters, 'session_id'>,
  page: { limit: number; cursor?: KeyCursor | undefined },
): Promise<{ items: SessionSummary[]; next_cursor: string | null }> {
  const { rows } = await pool.query<SessionSummary>({
    ...sessionsQuery(window, filters, page),
    types: EVENT_ROW_TYPES,
  });
  const last = rows.at(-1);
  return {
    items: rows,
    next_cursor:
      last && rows.length === page.limit
        ? encodeKeyCursor({ at: last.last_seen, id: last.session_id })
        : null,
  };
}

/** One session of the org with its traces in time order, or undefined when the org has no row of it. */
export async function getSession(
  pool: pg.Pool,
  orgId: string,
  sessionId: string,
): Promise<(SessionSummary & { traces_truncated: boolean; items: TraceSummary[] }) | undefined> {
  const [summary, traces] = await Promise.all([
    pool.query<SessionSummary>({ ...sessionQuery(orgId, sessionId), types: EVENT_ROW_TYPES }),
    pool.query<TraceSummary>({ ...sessionTracesQuery(orgId, sessionId), types: EVENT_ROW_TYPES }),
  ]);
  const session = summary.rows[0];
  if (!session) return undefined;
  const truncated = traces.rows.length > MAX_SESSION_TRACES;
  return {
    ...session,
    traces_truncated: truncated,
    items: truncated ? traces.rows.slice(0, MAX_SESSION_TRACES) : traces.rows,
  };
}
