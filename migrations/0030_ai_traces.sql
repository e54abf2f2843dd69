-- Per-trace summaries (issue 18): the trace and session lists read one narrow row per trace instead of grouping a
-- window's ai_events and ai_spans rows (1.5–2.3 s at 1 M events in one org).
--
-- Kept at ingest by statement-level triggers on both tables: new_rows holds only the rows a statement actually
-- inserted, so a re-delivered span (skipped by the writer's ON CONFLICT DO NOTHING) counts once, and a late child
-- adds to its trace's row. Rows re-inserted that are already counted (a late partition moving the default
-- partition's rows, an archive restore) run with `observatory.skip_rollups = on`, as for the rollups (0014).
--
-- The root is the earliest stored row (at the same moment the longer one, a span before a model call), as the
-- trace tree has it; service_name is the root's. endpoint, user_id and session_id are the first stored value of the
-- trace (context flows down the tree, so a trace's rows normally agree). model_names keeps up to 16 distinct models.
CREATE TABLE IF NOT EXISTS ai_traces (
  org_id          text NOT NULL,
  trace_id        text NOT NULL,
  started_at      timestamptz NOT NULL,
  ended_at        timestamptz NOT NULL,
  root_name       text NOT NULL,
  root_latency_ms double precision NOT NULL,
  root_is_model   boolean NOT NULL,
  service_name    text,
  endpoint        text,
  user_id         text,
  session_id      text,
  model_names     text[] NOT NULL,
  spans           integer NOT NULL,
  model_calls     integer NOT NULL,
  input_tokens    bigint NOT NULL,
  output_tokens   bigint NOT NULL,
  cost_usd        numeric NOT NULL,
  -- Failed model calls, and failed agent, tool, … spans.
  errors          integer NOT NULL,
  failed_spans    integer NOT NULL,
  PRIMARY KEY (org_id, trace_id)
);

-- The trace list: newest first, keyset on (started_at, trace_id).
CREATE INDEX IF NOT EXISTS ai_traces_org_start_idx ON ai_traces (org_id, started_at, trace_id);
-- One session's traces in time order, and the session list's window.
CREATE INDEX IF NOT EXISTS ai_traces_org_session_idx ON ai_traces (org_id, session_id, started_at)
  WHERE session_id IS NOT NULL;

-- Adds per-trace deltas (one element per trace, in (org_id, trace_id) order so that concurrent writers lock rows in
-- the same order) to the summaries. The one place that knows how two parts of a trace combine.
CREATE OR REPLACE FUNCTION ai_traces_merge(deltas ai_traces[]) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO ai_traces AS t
  SELECT * FROM unnest(deltas)
  ON CONFLICT (org_id, trace_id) DO UPDATE SET
    started_at = least(t.started_at, excluded.started_at),
    ended_at = greatest(t.ended_at, excluded.ended_at),
    root_name = CASE WHEN (excluded.started_at, -excluded.root_latency_ms, excluded.root_is_model)
                          < (t.started_at, -t.root_latency_ms, t.root_is_model)
                     THEN excluded.root_name ELSE t.root_name END,
    service_name = CASE WHEN (excluded.started_at, -excluded.root_latency_ms, excluded.root_is_model)
                             < (t.started_at, -t.root_latency_ms, t.root_is_model)
                        THEN excluded.service_name ELSE t.service_name END,
    root_is_model = CASE WHEN (excluded.started_at, -excluded.root_latency_ms, excluded.root_is_model)
                              < (t.started_at, -t.root_latency_ms, t.root_is_model)
                         THEN excluded.root_is_model ELSE t.root_is_model END,
    root_latency_ms = CASE WHEN (excluded.started_at, -excluded.root_latency_ms, excluded.root_is_model)
                                < (t.started_at, -t.root_latency_ms, t.root_is_model)
                           THEN excluded.root_latency_ms ELSE t.root_latency_ms END,
    endpoint = coalesce(t.endpoint, excluded.endpoint),
    user_id = coalesce(t.user_id, excluded.user_id),
    session_id = coalesce(t.session_id, excluded.session_id),
    model_names = CASE WHEN excluded.model_names <@ t.model_names THEN t.model_names
                       ELSE (SELECT coalesce(array_agg(m ORDER BY m), '{}')
                             FROM (SELECT DISTINCT m FROM unnest(t.model_names || excluded.model_names) AS m
                                   ORDER BY m LIMIT 16) AS d) END,
    spans = t.spans + excluded.spans,
    model_calls = t.model_calls + excluded.model_calls,
    input_tokens = t.input_tokens + excluded.input_tokens,
    output_tokens = t.output_tokens + excluded.output_tokens,
    cost_usd = t.cost_usd + excluded.cost_usd,
    errors = t.errors + excluded.errors,
    failed_spans = t.failed_spans + excluded.failed_spans
$$;

CREATE OR REPLACE FUNCTION ai_traces_capture_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('observatory.skip_rollups', true) = 'on' THEN
    RETURN NULL;
  END IF;
  PERFORM ai_traces_merge(array_agg(ROW(d.*)::ai_traces ORDER BY d.org_id, d.trace_id))
  FROM (
    SELECT org_id, trace_id,
           min(created_at),
           max(created_at + latency_ms * interval '1 millisecond'),
           (array_agg(concat_ws(' ', operation, model_name) ORDER BY created_at, latency_ms DESC))[1],
           (array_agg(latency_ms ORDER BY created_at, latency_ms DESC))[1],
           true,
           (array_agg(service_name ORDER BY created_at, latency_ms DESC))[1],
           (array_agg(endpoint ORDER BY created_at) FILTER (WHERE endpoint IS NOT NULL))[1],
           (array_agg(user_id ORDER BY created_at) FILTER (WHERE user_id IS NOT NULL))[1],
           (array_agg(session_id ORDER BY created_at) FILTER (WHERE session_id IS NOT NULL))[1],
           (array_agg(DISTINCT model_name))[1:16],
           count(*)::int,
           count(*)::int,
           coalesce(sum(input_tokens), 0)::int8,
           coalesce(sum(output_tokens), 0)::int8,
           coalesce(sum(cost_usd), 0),
           (count(*) FILTER (WHERE NOT success))::int,
           0
    FROM new_rows
    WHERE trace_id IS NOT NULL
    GROUP BY org_id, trace_id
  ) AS d
  HAVING count(*) > 0;
  RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION ai_traces_capture_spans() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('observatory.skip_rollups', true) = 'on' THEN
    RETURN NULL;
  END IF;
  PERFORM ai_traces_merge(array_agg(ROW(d.*)::ai_traces ORDER BY d.org_id, d.trace_id))
  FROM (
    SELECT org_id, trace_id,
           min(created_at),
           max(created_at + latency_ms * interval '1 millisecond'),
           (array_agg(name ORDER BY created_at, latency_ms DESC))[1],
           (array_agg(latency_ms ORDER BY created_at, latency_ms DESC))[1],
           false,
           (array_agg(service_name ORDER BY created_at, latency_ms DESC))[1],
           (array_agg(endpoint ORDER BY created_at) FILTER (WHERE endpoint IS NOT NULL))[1],
           (array_agg(user_id ORDER BY created_at) FILTER (WHERE user_id IS NOT NULL))[1],
           (array_agg(session_id ORDER BY created_at) FILTER (WHERE session_id IS NOT NULL))[1],
           '{}'::text[],
           count(*)::int,
           0, 0::int8, 0::int8, 0::numeric, 0,
           (count(*) FILTER (WHERE NOT success))::int
    FROM new_rows
    WHERE trace_id IS NOT NULL
    GROUP BY org_id, trace_id
  ) AS d
  HAVING count(*) > 0;
  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS ai_events_traces ON ai_events;
CREATE TRIGGER ai_events_traces AFTER INSERT ON ai_events
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ai_traces_capture_events();
DROP TRIGGER IF EXISTS ai_spans_traces ON ai_spans;
CREATE TRIGGER ai_spans_traces AFTER INSERT ON ai_spans
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ai_traces_capture_spans();

-- A late ai_spans partition moves the default partition's rows by DELETE and INSERT: already counted.
-- (ai_events_ensure_partition runs so since 0014.)
ALTER FUNCTION ai_spans_ensure_partition(timestamptz) SET observatory.skip_rollups = 'on';

-- Rows stored before this migration are summed once, by the same capture functions: each partition's rows go
-- through a temporary table carrying the trigger, a day at a time (bounded memory). Creating the triggers above
-- locked both tables against writes until this migration commits, so every row counts exactly once. A table that
-- already holds summaries was filled this way before.
DO $$
DECLARE
  source text;
  part regclass;
  day timestamptz;
  last_day timestamptz;
BEGIN
  IF EXISTS (SELECT 1 FROM ai_traces) THEN
    RETURN;
  END IF;
  FOREACH source IN ARRAY ARRAY['ai_events', 'ai_spans'] LOOP
    EXECUTE format('CREATE TEMP TABLE ai_traces_backfill (LIKE %I) ON COMMIT DROP', source);
    EXECUTE format('CREATE TRIGGER ai_traces_backfill AFTER INSERT ON ai_traces_backfill
                      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION %I()',
                   CASE source WHEN 'ai_events' THEN 'ai_traces_capture_events' ELSE 'ai_traces_capture_spans' END);
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = source::regclass LOOP
      EXECUTE format('SELECT date_trunc(''day'', min(created_at)), max(created_at) FROM ONLY %s', part)
        INTO day, last_day;
      WHILE day <= last_day LOOP
        EXECUTE format('INSERT INTO ai_traces_backfill SELECT * FROM ONLY %s
                          WHERE created_at >= $1 AND created_at < $1 + interval ''1 day''', part)
          USING day;
        TRUNCATE ai_traces_backfill;
        day := day + interval '1 day';
      END LOOP;
    END LOOP;
    DROP TABLE ai_traces_backfill;
  END LOOP;
END;
$$;
