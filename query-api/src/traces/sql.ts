import type { SqlStatement } from '../db/sql-statement.ts';
import type { KeyCursor } from './cursor.ts';

/**
 * The trace and session lists read `ai_traces` and `ai_sessions` (migrations 0030, 0031), summaries kept at
 * ingest, so a page costs an index range of its window, not a grouping of every row in it. A trace's tree reads its
 * rows: model calls in `ai_events`, the agent, tool, … spans around them in `ai_spans`. Every `where` starts with
 * `org_id`.
 */

/** What the trace and session lists can be narrowed to. */
export interface GroupFilters {
  model_name?: string | undefined;
  user_id?: string | undefined;
  session_id?: string | undefined;
  service_name?: string | undefined;
  endpoint?: string | undefined;
  has_errors?: boolean | undefined;
}

/**
 * Conditions on `ai_traces` rows for each filter. A trace's model filter looks in its models (`@>`, which the GIN
 * index serves); the others are the trace's own values (user, session and endpoint flow down the tree, so a trace's
 * rows normally share them).
 */
function traceConditions(filters: GroupFilters, values: unknown[]): string[] {
  const clauses: string[] = [];
  for (const column of ['user_id', 'session_id', 'service_name', 'endpoint'] as const) {
    const value = filters[column];
    if (value === undefined) continue;
    values.push(value);
    clauses.push(`${column} = $${values.length}`);
  }
  if (filters.model_name !== undefined) {
    values.push(filters.model_name);
    clauses.push(`model_names @> ARRAY[$${values.length}]::text[]`);
  }
  return clauses;
}

const HAS_ERRORS = '(errors + failed_spans > 0)';

/** `(key, id)` before the cursor's: the next page of a list ordered by both, newest first. */
function keysetBefore(key: string, id: string, cursor: KeyCursor, values: unknown[]): string {
  values.push(cursor.at, cursor.id);
  return `(${key}, ${id}) < ($${values.length - 1}, $${values.length})`;
}

export interface Window {
  orgId: string;
  from: Date;
  to: Date;
}

const TRACE_SUMMARY = `trace_id, started_at,
    (extract(epoch FROM ended_at - started_at) * 1000)::float8 AS duration_ms,
    root_name, service_name, spans, model_calls, input_tokens, output_tokens, cost_usd::text AS cost_usd,
    ${HAS_ERRORS} AS has_errors`;

/** The newest traces starting in a window, with the totals of the whole trace; keyset on (start, trace id). */
export function tracesQuery(
  window: Window,
  filters: GroupFilters,
  page: { limit: number; cursor?: KeyCursor | undefined },
): SqlStatement {
  const values: unknown[] = [window.orgId, window.from, window.to];
  const clauses = ['org_id = $1', 'started_at >= $2', 'started_at < $3', ...traceConditions(filters, values)];
  if (filters.has_errors !== undefined) {
    values.push(filters.has_errors);
    clauses.push(`${HAS_ERRORS} = $${values.length}`);
  }
  if (page.cursor) clauses.push(keysetBefore('started_at', 'trace_id', page.cursor, values));
  values.push(page.limit);
  return {
    text: `SELECT ${TRACE_SUMMARY}
FROM ai_traces WHERE ${clauses.join(' AND ')}
ORDER BY started_at DESC, trace_id DESC
LIMIT $${values.length}`,
    values,
  };
}

/** The most rows a trace's tree holds; a larger trace is cut, and says so. */
export const MAX_TREE_ROWS = 5000;

/** Every stored row of one trace, earliest first, at most `MAX_TREE_ROWS + 1` (to tell a cut tree). */
export function traceRowsQuery(orgId: string, traceId: string): SqlStatement {
  return {
    text: `SELECT * FROM (SELECT 'model' AS kind, id, span_id, parent_span_id, concat_ws(' ', operation, model_name) AS name,
    created_at, latency_ms, success, error_code, service_name, endpoint, user_id, session_id, model_name,
    NULL::text AS agent_name, NULL::text AS tool_name, input_tokens, output_tokens, cost_usd::text AS cost_usd
  FROM ai_events WHERE org_id = $1 AND trace_id = $2
UNION ALL
SELECT span_kind, id, span_id, parent_span_id, name, created_at, latency_ms, success, error_code, service_name,
    endpoint, user_id, session_id, NULL, agent_name, tool_name, NULL, NULL, NULL
  FROM ai_spans WHERE org_id = $1 AND trace_id = $2) AS r
ORDER BY created_at, kind = 'model', span_id
LIMIT ${MAX_TREE_ROWS + 1}`,
    values: [orgId, traceId],
  };
}

/** A session's totals as `ai_sessions` (migration 0031) keeps them. */
const SESSION_COLUMNS = `s.session_id, s.first_seen, s.last_seen, s.traces, s.model_calls, s.input_tokens, s.output_tokens,
    s.cost_usd::text AS cost_usd, s.errors, s.failed_spans`;

/**
 * `sessions` (rows of SESSION_COLUMNS, already cut to a page) with their distinct users, counted over each session's
 * traces: not additive, so not kept, and counted for the page's sessions only (through `ai_traces`' session index).
 */
const withUsers = (sessions: string) => `SELECT p.*,
    (SELECT count(DISTINCT t.user_id) FROM ai_traces t WHERE t.org_id = $1 AND t.session_id = p.session_id)::int
      AS users
  FROM (${sessions}) AS p`;

/**
 * The sessions active in a window (a trace of theirs ran in it), most recently active first, with their totals;
 * keyset on (last activity, session id). A filter keeps the sessions any of whose traces matches it.
 */
export function sessionsQuery(
  window: Window,
  filters: Omit<GroupFilters, 'session_id'>,
  page: { limit: number; cursor?: KeyCursor | undefined },
): SqlStatement {
  const values: unknown[] = [window.orgId, window.from, window.to];
  const clauses = ['s.org_id = $1', 's.last_seen >= $2', 's.first_seen < $3'];
  const traceClauses = traceConditions(filters, values);
  if (traceClauses.length > 0) {
    clauses.push(`s.session_id IN (SELECT session_id FROM ai_traces
      WHERE org_id = $1 AND session_id IS NOT NULL AND ${traceClauses.join(' AND ')})`);
  }
  if (filters.has_errors !== undefined) {
    values.push(filters.has_errors);
    clauses.push(`(s.errors + s.failed_spans > 0) = $${values.length}`);
  }
  if (page.cursor) clauses.push(keysetBefore('s.last_seen', 's.session_id', page.cursor, values));
  values.push(page.limit);
  return {
    text: `${withUsers(`SELECT ${SESSION_COLUMNS}
FROM ai_sessions s WHERE ${clauses.join(' AND ')}
ORDER BY s.last_seen DESC, s.session_id DESC
LIMIT $${values.length}`)}
ORDER BY p.last_seen DESC, p.session_id DESC`,
    values,
  };
}

/** The most traces one session's page lists. */
export const MAX_SESSION_TRACES = 500;

/** One session's totals over all its traces. */
export function sessionQuery(orgId: string, sessionId: string): SqlStatement {
  return {
    text: withUsers(`SELECT ${SESSION_COLUMNS} FROM ai_sessions s WHERE s.org_id = $1 AND s.session_id = $2`),
    values: [orgId, sessionId],
  };
}

/** One session's traces in time order, at most `MAX_SESSION_TRACES + 1`. */
export function sessionTracesQuery(orgId: string, sessionId: string): SqlStatement {
  return {
    text: `SELECT ${TRACE_SUMMARY}
FROM ai_traces WHERE org_id = $1 AND session_id = $2
ORDER BY started_at, trace_id
LIMIT ${MAX_SESSION_TRACES + 1}`,
    values: [orgId, sessionId],
  };
}
