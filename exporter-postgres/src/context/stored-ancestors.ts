import type pg from 'pg';
import type { ContextGap } from '../mapping/span-context.ts';

/** Bounds of the one lookup a batch may make: distinct ancestors asked for, and time. */
export interface StoredAncestorLimits {
  /** Distinct (org, trace, span) ancestors looked up per batch; gaps past it stay as they are. Default 1,000. */
  maxAncestors?: number;
  /** The lookup's time limit; past it the batch is stored as mapped. Default 2,000 ms. */
  timeoutMs?: number;
}

// An ancestor starts before its descendants; a day back covers a long agent run, and a minute ahead the clock skew
// between two services of one trace. Both bounds prune the monthly partitions the lookup reads.
const LOOK_BACK_MS = 24 * 3_600_000;
const CLOCK_SKEW_MS = 60_000;

/**
 * The endpoint, user and session stored on each asked-for ancestor, by its own row in `ai_spans` or `ai_events`:
 * the org, trace and span id must all match, so nothing comes from another org or trace. Each row was completed
 * from its own ancestors when it was stored, so the nearest stored one is enough. Values are as stored (already
 * scrubbed and pseudonymised).
 */
function lookupSql(keys: { org: string[]; trace: string[]; span: string[] }, from: Date, to: Date) {
  return {
    text: `SELECT w.org_id, w.trace_id, w.span_id, a.endpoint, a.user_id, a.session_id
FROM unnest($1::text[], $2::text[], $3::text[]) AS w(org_id, trace_id, span_id)
CROSS JOIN LATERAL (
  SELECT endpoint, user_id, session_id FROM ai_spans s
    WHERE s.org_id = w.org_id AND s.trace_id = w.trace_id AND s.span_id = w.span_id
      AND s.created_at >= $4 AND s.created_at <= $5
  UNION ALL
  SELECT endpoint, user_id, session_id FROM ai_events e
    WHERE e.org_id = w.org_id AND e.trace_id = w.trace_id AND e.span_id = w.span_id
      AND e.created_at >= $4 AND e.created_at <= $5
  LIMIT 1
) AS a`,
    values: [keys.org, keys.trace, keys.span, from, to],
  };
}

const keyOf = (org: string, trace: string, span: string) => `${org}\n${trace}\n${span}`;

/**
 * Completes rows whose ancestry leaves their export request (a child exported after its agent, a model call in a
 * second request) from the stored rows of those ancestors: one indexed, batched lookup per batch, bounded in keys
 * and time, made only when some row has such a gap. Fills only what a row lacks; in place. A failed lookup leaves
 * the rows as mapped (the context is a nicety; storing the rows is not) and is reported to `onError`.
 */
export async function fillFromStoredAncestors(
  pool: pg.Pool,
  gaps: readonly ContextGap[],
  limits: StoredAncestorLimits & { onError?: (err: Error) => void } = {},
): Promise<void> {
  if (gaps.length === 0) return;
  const { maxAncestors = 1_000, timeoutMs = 2_000 } = limits;
  const wanted = new Map<string, ContextGap[]>();
  const keys = { org: [] as string[], trace: [] as string[], span: [] as string[] };
  let earliest = Number.POSITIVE_INFINITY;
  let latest = Number.NEGATIVE_INFINITY;
  for (const gap of gaps) {
    const { org_id, trace_id, created_at } = gap.row;
    if (!trace_id) continue;
    const key = keyOf(org_id, trace_id, gap.ancestorSpanId);
    let waiting = wanted.get(key);
    if (!waiting) {
      if (wanted.size >= maxAncestors) continue;
      waiting = [];
      wanted.set(key, waiting);
      keys.org.push(org_id);
      keys.trace.push(trace_id);
      keys.span.push(gap.ancestorSpanId);
    }
    waiting.push(gap);
    earliest = Math.min(earliest, created_at.getTime());
    latest = Math.max(latest, created_at.getTime());
  }
  if (wanted.size === 0) return;
  let found: pg.QueryResult<{
    org_id: string;
    trace_id: string;
    span_id: string;
    endpoint: string | null;
    user_id: string | null;
    session_id: string | null;
  }>;
  try {
    found = await pool.query({
      ...lookupSql(keys, new Date(earliest - LOOK_BACK_MS), new Date(latest + CLOCK_SKEW_MS)),
      query_timeout: timeoutMs,
    } as pg.QueryConfig);
  } catch (err) {
    limits.onError?.(err as Error);
    return;
  }
  for (const ancestor of found.rows) {
    for (const { row } of wanted.get(keyOf(ancestor.org_id, ancestor.trace_id, ancestor.span_id)) ?? []) {
      row.endpoint ??= ancestor.endpoint;
      row.user_id ??= ancestor.user_id;
      row.session_id ??= ancestor.session_id;
    }
  }
}
