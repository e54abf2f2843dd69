-- OTLP log records (POST /v1/logs), one row per record, scrubbed and capped by the receiver
-- (exporter-postgres/src/logs/map-log.ts). Partitioned by month on `time` like ai_events, with a default partition
-- for any other timestamp; retention removes rows by `time` (log_retention_days).
CREATE TABLE IF NOT EXISTS structured_logs (
  id               uuid NOT NULL,
  org_id           text NOT NULL,
  time             timestamptz NOT NULL,
  observed_time    timestamptz NOT NULL,
  received_at      timestamptz NOT NULL DEFAULT now(),
  severity_number  smallint NOT NULL DEFAULT 0 CHECK (severity_number BETWEEN 0 AND 24),
  severity_text    text,
  service_name     text,
  scope_name       text,
  body             text NOT NULL DEFAULT '',
  trace_id         text,
  span_id          text,
  attributes       jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- The id is derived from the stored content, so a re-delivered record conflicts here and is stored once.
  PRIMARY KEY (org_id, time, id)
) PARTITION BY RANGE (time);

CREATE TABLE IF NOT EXISTS structured_logs_default PARTITION OF structured_logs DEFAULT;

-- The lines of a trace (the console's inspector) without dates. A random key: the costliest kind at ingest, paid
-- only by lines that carry a trace id.
CREATE INDEX IF NOT EXISTS structured_logs_org_trace_idx ON structured_logs (org_id, trace_id)
  WHERE trace_id IS NOT NULL;

-- Text search: substrings, case-insensitive (`body ILIKE '%…%'`), served by a trigram GIN index. Weighed against
-- full-text search (`to_tsvector('simple', body)`, GIN) by `BENCH_ONLY=logs npm run bench`: the two cost ingest
-- about alike (both GIN: raw COPY at 0.15-0.2x of the bare table) and full-text's index is smaller, but a phrase of
-- common words made full-text re-check most of the window's rows, while trigrams answer phrases and fragments (an
-- order id, an error code) that words miss. A common term, the trigram index's weak spot, is first looked for in the
-- newest rows by the primary key (query-api/src/logs/logs-sql.ts). pg_trgm ships with PostgreSQL (contrib, in the
-- embedded build too) and is a trusted extension: the schema owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS structured_logs_body_trgm_idx ON structured_logs USING gin (body gin_trgm_ops);

-- Creates the monthly partition holding `at` when it is missing, moving that month's rows out of the default
-- partition first (as ai_events_ensure_partition does).
CREATE OR REPLACE FUNCTION structured_logs_ensure_partition(at timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  month_start timestamptz := date_trunc('month', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  month_end   timestamptz := month_start + interval '1 month';
  part_name   text := 'structured_logs_' || to_char(month_start AT TIME ZONE 'UTC', 'YYYYMM');
  stash_name  text := 'structured_logs_stash_' || to_char(month_start AT TIME ZONE 'UTC', 'YYYYMM');
BEGIN
  IF to_regclass(part_name) IS NOT NULL THEN
    RETURN part_name;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('structured_logs_ensure_partition'));
  IF to_regclass(part_name) IS NOT NULL THEN
    RETURN part_name;
  END IF;
  EXECUTE format('CREATE TEMP TABLE %I ON COMMIT DROP AS SELECT * FROM structured_logs_default WHERE time >= %L AND time < %L',
                 stash_name, month_start, month_end);
  EXECUTE format('DELETE FROM structured_logs_default WHERE time >= %L AND time < %L', month_start, month_end);
  EXECUTE format('CREATE TABLE %I PARTITION OF structured_logs FOR VALUES FROM (%L) TO (%L)', part_name, month_start, month_end);
  EXECUTE format('INSERT INTO structured_logs SELECT * FROM %I', stash_name);
  EXECUTE format('DROP TABLE %I', stash_name);
  RETURN part_name;
END;
$$;

