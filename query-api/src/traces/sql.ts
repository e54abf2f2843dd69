import type { SqlStatement } from '../db/sql-statement.ts';
import type { KeyCursor } from './cursor.ts';

/**
 * A trace or session spans two tables: model calls in `ai_events`, the agent, tool, … spans around them in
 * `ai_spans`. Each query reads both through the same projection, `where` applied to each (both tables have the
 * columns it names), and every `where` starts with `org_id`.
 */
function bothTables(where: string): string {
  return `SELECT trace_id, span_id, created_at, latency_ms, concat_ws(' ', operation, model_name) AS name,
      service_name, endpoint, user_id, session_id, model_name, true AS model_call, input_tokens, output_tokens,
      cost_usd, success
    FROM ai_events WHERE ${where}
  UNION ALL
  SELECT trace_id, span_id, created_at, latency_ms, name, service_name, endpoint, user_id, session_id,
      NULL::text, false, NULL::int, NULL::int, NULL::numeric, success
    FROM ai_spans WHERE ${where}`;
}

/** What the trace and session lists can be narrowed to. */
export interface GroupFilters {
  model_name?: string | undefined;
  user_id?: string | undefined;
  session_id?: string | undefined;
  service_name?: string | undefined;
  endpoint?: string | undefined;
  has_errors?: boolean | undefined;
}

/** HAVING clauses keeping the groups (traces, sessions) any of whose rows match each filter. */
function having(filters: GroupFilters, values: unknown[]): string[] {
  const clauses: string[] = [];
  for (const column of ['model_name', 'user_id', 'session_id', 'service_name', 'endpoint'] as const) {
    const value = filters[column];
    if (value === undefined) continue;
    values.push(value);
    clauses.push(`bool_or(${column} = $${values.length})`);
  }
  if (filters.has_errors !== undefined) {
    values.push(filters.has_errors);
    clauses.push(`bool_or(NOT success) = $${values.length}`);
  }
  return clauses;
}

export interface Window {
  orgId: string;
  from: Date;
  to: Date;
}

/**
 * The newest traces of a window: ids and start times only, in page order. Bounded by the window (its rows are
 * read through the primary key's `(org_id, created_at)`) and the limit; a trace's start is its earliest row in
 * the window.
 */
export function traceIdsQuery(
  window: Window,
  filters: GroupFilters,
  page: { limit: number; cursor?: KeyCursor | undefined },
): SqlStatement {
  const values: unknown[] = [window.orgId, window.from, window.to];
  const clauses = having(filters, values);
  if (page.cursor) {
    values.push(page.cursor.at, page.cursor.id);
    clauses.push(`(min(created_at), trace_id) < ($${values.length - 1}, $${values.length})`);
  }
  values.push(page.limit);
  return {
    text: `SELECT trace_id, min(created_at) AS started_at
FROM (${bothTables('org_id = $1 AND created_at >= $2 AND created_at < $3 AND trace_id IS NOT NULL')}) AS r
GROUP BY trace_id
${clauses.length ? `HAVING ${clauses.join(' AND ')}` : ''}
ORDER BY started_at DESC, trace_id DESC
LIMIT $${values.length}`,
    values,
  };
}

/**
 * Totals of whole traces by id, through the `(org_id, trace_id)` indexes of both tables. The root is the earliest
 * stored span (a span before a model call starting at the same moment).
 */
export function traceSummariesQuery(orgId: string, traceIds: readonly string[]): SqlStatement {
  return {
    text: `SELECT trace_id,
    min(created_at) AS started_at,
    (extract(epoch FROM max(created_at + latency_ms * interval '1 millisecond') - min(created_at)) * 1000)::float8
      AS duration_ms,
    (array_agg(name ORDER BY created_at, latency_ms DESC, model_call))[1] AS root_name,
    (array_agg(service_name ORDER BY created_at, latency_ms DESC, model_call))[1] AS service_name,
    count(*)::int AS spans,
    count(*) FILTER (WHERE model_call)::int AS model_calls,
    coalesce(sum(input_tokens), 0)::int8 AS input_tokens,
    coalesce(sum(output_tokens), 0)::int8 AS output_tokens,
    coalesce(sum(cost_usd), 0)::text AS cost_usd,
    bool_or(NOT success) AS has_errors
FROM (${bothTables('org_id = $1 AND trace_id = ANY($2::text[])')}) AS r
GROUP BY trace_id`,
    values: [orgId, traceIds],
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

const SESSION_TOTALS = `session_id,
    min(created_at) AS first_seen,
    max(created_at) AS last_seen,
    count(DISTINCT trace_id)::int AS traces,
    count(*) FILTER (WHERE model_call)::int AS model_calls,
    coalesce(sum(input_tokens), 0)::int8 AS input_tokens,
    coalesce(sum(output_tokens), 0)::int8 AS output_tokens,
    coalesce(sum(cost_usd), 0)::text AS cost_usd,
    count(*) FILTER (WHERE model_call AND NOT success)::int AS errors,
    count(*) FILTER (WHERE NOT model_call AND NOT success)::int AS failed_spans,
    count(DISTINCT user_id)::int AS users`;

/** The sessions active in a window, most recently active first, with their totals over the window's rows. */
export function sessionsQuery(
  window: Window,
  filters: Omit<GroupFilters, 'session_id'>,
  page: { limit: number; cursor?: KeyCursor | undefined },
): SqlStatement {
  const values: unknown[] = [window.orgId, window.from, window.to];
  const clauses = having(filters, values);
  if (page.cursor) {
    values.push(page.cursor.at, page.cursor.id);
    clauses.push(`(max(created_at), session_id) < ($${values.length - 1}, $${values.length})`);
  }
  values.push(page.limit);
  return {
    text: `SELECT ${SESSION_TOTALS}
FROM (${bothTables('org_id = $1 AND session_id IS NOT NULL AND created_at >= $2 AND created_at < $3')}) AS r
GROUP BY session_id
${clauses.length ? `HAVING ${clauses.join(' AND ')}` : ''}
ORDER BY last_seen DESC, session_id DESC
LIMIT $${values.length}`,
    values,
  };
}

/** The most traces one session's page lists. */
export const MAX_SESSION_TRACES = 500;

/** One session's totals over all its rows, through the `(org_id, session_id, created_at)` indexes. */
export function sessionQuery(orgId: string, sessionId: string): SqlStatement {
  return {
    text: `SELECT ${SESSION_TOTALS}
FROM (${bothTables('org_id = $1 AND session_id = $2')}) AS r
GROUP BY session_id`,
    values: [orgId, sessionId],
  };
}

/** One session's traces in time order (by each trace's first row carrying the session), at most `MAX_SESSION_TRACES + 1`. */
export function sessionTraceIdsQuery(orgId: string, sessionId: string): SqlStatement {
  return {
    text: `SELECT trace_id FROM (${bothTables('org_id = $1 AND session_id = $2 AND trace_id IS NOT NULL')}) AS r
GROUP BY trace_id
ORDER BY min(created_at), trace_id
LIMIT ${MAX_SESSION_TRACES + 1}`,
    values: [orgId, sessionId],
  };
}
