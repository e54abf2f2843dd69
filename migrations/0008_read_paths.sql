-- Read paths that stay fast however many events one org holds (issue 14). Each index here was weighed against
-- raw COPY into the schema (`npm run bench`, BENCH_ONLY=query); migrations/README.md has the figures and reasons.

-- True when `id` has the UUIDv7 layout the service writes (exporter-postgres/src/mapping/event-id.ts) and its
-- 48-bit timestamp is the row's created_at to the millisecond: such a row is found by the primary key from the id
-- alone. Built from immutable operators only and not STRICT, so PostgreSQL inlines it: the partial index below
-- then costs an expression per inserted row, not a function call.
CREATE OR REPLACE FUNCTION ai_event_id_matches_time(id uuid, created_at timestamptz) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT get_byte(uuid_send(id), 6) >> 4 = 7
     AND ('x' || encode(substring(uuid_send(id) FROM 1 FOR 6), 'hex'))::bit(48)::bigint
         = floor(extract(epoch FROM created_at - 'epoch'::timestamptz) * 1000)::bigint
$$;

-- The other rows (ids a client supplied): rare, so this index costs ingest little.
CREATE INDEX IF NOT EXISTS ai_events_foreign_id_idx ON ai_events (org_id, id)
  WHERE NOT ai_event_id_matches_time(id, created_at);

-- All events of a trace or a request, without dates. Random keys: the two costliest indexes at ingest.
CREATE INDEX IF NOT EXISTS ai_events_org_trace_idx ON ai_events (org_id, trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS ai_events_org_request_idx ON ai_events (org_id, request_id) WHERE request_id IS NOT NULL;

-- One user's events newest first.
CREATE INDEX IF NOT EXISTS ai_events_org_user_time_idx ON ai_events (org_id, user_id, created_at)
  WHERE user_id IS NOT NULL;

-- Failures, error codes and fallbacks are a few percent of calls: partial indexes hold only those rows, so the
-- filtered pages find them newest first and ingest pays only for the rare rows.
CREATE INDEX IF NOT EXISTS ai_events_failures_idx ON ai_events (org_id, created_at) WHERE NOT success;
CREATE INDEX IF NOT EXISTS ai_events_error_code_idx ON ai_events (org_id, error_code, created_at)
  WHERE error_code IS NOT NULL;
CREATE INDEX IF NOT EXISTS ai_events_fallbacks_idx ON ai_events (org_id, created_at) WHERE fallback_used;
