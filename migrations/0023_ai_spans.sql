-- Agent traces and sessions (issue 18). The spans that give AI work its shape (agents, tools, retrievers, chains,
-- guardrails, evaluators, workflows) live in a sibling table, not in ai_events: every model-call read path,
-- aggregate, rollup and alert keeps reading ai_events alone, with the same rows, indexes and plans as before.
-- migrations/README.md (ai_spans) has the reasons and the measured ingest cost.

-- The conversation or thread a model call belongs to; null for calls outside any session.
ALTER TABLE ai_events ADD COLUMN IF NOT EXISTS session_id text;
-- One session's calls in time order; rows without a session (most) skip it.
CREATE INDEX IF NOT EXISTS ai_events_org_session_time_idx ON ai_events (org_id, session_id, created_at)
  WHERE session_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS ai_spans (
  id              uuid NOT NULL,
  org_id          text NOT NULL,
  span_kind       text NOT NULL,
  name            text NOT NULL,
  agent_name      text,
  tool_name       text,
  success         boolean NOT NULL,
  error_code      text,
  latency_ms      double precision NOT NULL,
  trace_id        text,
  span_id         text,
  parent_span_id  text,
  service_name    text,
  endpoint        text,
  user_id         text,
  session_id      text,
  attributes      jsonb,
  created_at      timestamptz NOT NULL,
  received_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, created_at, id)
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS ai_spans_default PARTITION OF ai_spans DEFAULT;

-- A trace's tree without dates.
CREATE INDEX IF NOT EXISTS ai_spans_org_trace_idx ON ai_spans (org_id, trace_id) WHERE trace_id IS NOT NULL;
-- A session's spans in time order.
CREATE INDEX IF NOT EXISTS ai_spans_org_session_time_idx ON ai_spans (org_id, session_id, created_at)
  WHERE session_id IS NOT NULL;

-- As ai_events_ensure_partition (0001): creates the month's partition holding `at` when missing, moving that
-- month's rows out of the default partition first.
CREATE OR REPLACE FUNCTION ai_spans_ensure_partition(at timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  month_start timestamptz := date_trunc('month', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  month_end   timestamptz := month_start + interval '1 month';
  part_name   text := 'ai_spans_' || to_char(month_start AT TIME ZONE 'UTC', 'YYYYMM');
  stash_name  text := 'ai_spans_stash_' || to_char(month_start AT TIME ZONE 'UTC', 'YYYYMM');
BEGIN
  IF to_regclass(part_name) IS NOT NULL THEN
    RETURN part_name;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('ai_spans_ensure_partition'));
  IF to_regclass(part_name) IS NOT NULL THEN
    RETURN part_name;
  END IF;
  EXECUTE format('CREATE TEMP TABLE %I ON COMMIT DROP AS SELECT * FROM ai_spans_default WHERE created_at >= %L AND created_at < %L',
                 stash_name, month_start, month_end);
  EXECUTE format('DELETE FROM ai_spans_default WHERE created_at >= %L AND created_at < %L', month_start, month_end);
  EXECUTE format('CREATE TABLE %I PARTITION OF ai_spans FOR VALUES FROM (%L) TO (%L)', part_name, month_start, month_end);
  EXECUTE format('INSERT INTO ai_spans SELECT * FROM %I', stash_name);
  EXECUTE format('DROP TABLE %I', stash_name);
  RETURN part_name;
END;
$$;
