-- Per-session summaries (issue 18), kept from the per-trace ones (0030) the way those are kept from the rows: the
-- session list reads one row per session in order of last activity instead of grouping a window's traces.
--
-- Statement-level triggers on ai_traces: a trace inserted with a session adds itself; an updated trace adds what
-- changed (new − old), or all of itself when it has just learned its session (a trace's session, once set, never
-- changes: ai_traces_merge keeps the first). So every figure equals the sum over the session's traces.
-- Distinct users are not additive: reads count them from the session's traces (few, through ai_traces' session
-- index).
CREATE TABLE IF NOT EXISTS ai_sessions (
  org_id        text NOT NULL,
  session_id    text NOT NULL,
  first_seen    timestamptz NOT NULL,
  last_seen     timestamptz NOT NULL,
  traces        integer NOT NULL,
  model_calls   integer NOT NULL,
  input_tokens  bigint NOT NULL,
  output_tokens bigint NOT NULL,
  cost_usd      numeric NOT NULL,
  errors        integer NOT NULL,
  failed_spans  integer NOT NULL,
  PRIMARY KEY (org_id, session_id)
);

-- The session list: most recently active first, keyset on (last_seen, session_id).
CREATE INDEX IF NOT EXISTS ai_sessions_org_last_idx ON ai_sessions (org_id, last_seen, session_id);

-- Adds per-session deltas (one element per session, in key order) to the summaries.
CREATE OR REPLACE FUNCTION ai_sessions_merge(deltas ai_sessions[]) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO ai_sessions AS s
  SELECT * FROM unnest(deltas)
  ON CONFLICT (org_id, session_id) DO UPDATE SET
    first_seen = least(s.first_seen, excluded.first_seen),
    last_seen = greatest(s.last_seen, excluded.last_seen),
    traces = s.traces + excluded.traces,
    model_calls = s.model_calls + excluded.model_calls,
    input_tokens = s.input_tokens + excluded.input_tokens,
    output_tokens = s.output_tokens + excluded.output_tokens,
    cost_usd = s.cost_usd + excluded.cost_usd,
    errors = s.errors + excluded.errors,
    failed_spans = s.failed_spans + excluded.failed_spans
$$;

CREATE OR REPLACE FUNCTION ai_sessions_capture_traces() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM ai_sessions_merge(array_agg(ROW(d.*)::ai_sessions ORDER BY d.org_id, d.session_id))
    FROM (
      SELECT org_id, session_id, min(started_at), max(ended_at), count(*)::int, sum(model_calls)::int,
             sum(input_tokens)::int8, sum(output_tokens)::int8, sum(cost_usd), sum(errors)::int,
             sum(failed_spans)::int
      FROM new_rows WHERE session_id IS NOT NULL
      GROUP BY org_id, session_id
    ) AS d
    HAVING count(*) > 0;
  ELSE
    PERFORM ai_sessions_merge(array_agg(ROW(d.*)::ai_sessions ORDER BY d.org_id, d.session_id))
    FROM (
      SELECT n.org_id, n.session_id, min(n.started_at), max(n.ended_at),
             count(*) FILTER (WHERE o.session_id IS NULL)::int,
             sum(n.model_calls - CASE WHEN o.session_id IS NULL THEN 0 ELSE o.model_calls END)::int,
             sum(n.input_tokens - CASE WHEN o.session_id IS NULL THEN 0 ELSE o.input_tokens END)::int8,
             sum(n.output_tokens - CASE WHEN o.session_id IS NULL THEN 0 ELSE o.output_tokens END)::int8,
             sum(n.cost_usd - CASE WHEN o.session_id IS NULL THEN 0 ELSE o.cost_usd END),
             sum(n.errors - CASE WHEN o.session_id IS NULL THEN 0 ELSE o.errors END)::int,
             sum(n.failed_spans - CASE WHEN o.session_id IS NULL THEN 0 ELSE o.failed_spans END)::int
      FROM new_rows n JOIN old_rows o ON o.org_id = n.org_id AND o.trace_id = n.trace_id
      WHERE n.session_id IS NOT NULL
      GROUP BY n.org_id, n.session_id
    ) AS d
    HAVING count(*) > 0;
  END IF;
  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS ai_traces_sessions_insert ON ai_traces;
CREATE TRIGGER ai_traces_sessions_insert AFTER INSERT ON ai_traces
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ai_sessions_capture_traces();
DROP TRIGGER IF EXISTS ai_traces_sessions_update ON ai_traces;
CREATE TRIGGER ai_traces_sessions_update AFTER UPDATE ON ai_traces
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ai_sessions_capture_traces();

-- The trace list's filters by user and by failure, and the session list's by user, without reading the window.
CREATE INDEX IF NOT EXISTS ai_traces_org_user_idx ON ai_traces (org_id, user_id, started_at)
  WHERE user_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS ai_traces_org_failed_idx ON ai_traces (org_id, started_at)
  WHERE errors + failed_spans > 0;
CREATE INDEX IF NOT EXISTS ai_traces_models_idx ON ai_traces USING gin (model_names);

-- One session's rows were read through these (0023); sessions now read ai_sessions and ai_traces, and no query
-- reads a session's rows, so their ingest cost buys nothing.
DROP INDEX IF EXISTS ai_events_org_session_time_idx;
DROP INDEX IF EXISTS ai_spans_org_session_time_idx;

-- Sessions of traces summed before this migration, once: creating the triggers above locked ai_traces against
-- writes until this migration commits.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM ai_sessions) THEN
    RETURN;
  END IF;
  INSERT INTO ai_sessions
  SELECT org_id, session_id, min(started_at), max(ended_at), count(*), sum(model_calls), sum(input_tokens),
         sum(output_tokens), sum(cost_usd), sum(errors), sum(failed_spans)
  FROM ai_traces WHERE session_id IS NOT NULL
  GROUP BY org_id, session_id;
END;
$$;
