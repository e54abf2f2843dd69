-- Core schema. Every unique key on ai_events includes org_id and the partition key (created_at),
-- and nothing references ai_events by foreign key, so the table can be distributed by org_id
-- (Citus) without change.

CREATE TABLE IF NOT EXISTS orgs (
  id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  name        text NOT NULL,
  settings    jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS api_keys (
  id            uuid PRIMARY KEY,
  org_id        text NOT NULL REFERENCES orgs(id),
  name          text NOT NULL DEFAULT '',
  role          text NOT NULL CHECK (role IN ('viewer', 'org_admin', 'ingest')),
  key_prefix    text NOT NULL,
  key_hash      bytea NOT NULL UNIQUE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);
CREATE INDEX IF NOT EXISTS api_keys_org_idx ON api_keys (org_id, created_at);

CREATE TABLE IF NOT EXISTS ai_events (
  id                   uuid NOT NULL,
  org_id               text NOT NULL,
  client_id            text,
  user_id              text,
  request_id           text,
  trace_id             text,
  span_id              text,
  parent_span_id       text,
  service_name         text,
  endpoint             text,
  operation            text,
  provider             text,
  model_name           text NOT NULL,
  model_version        text,
  adapter_id           text,
  input_tokens         integer,
  output_tokens        integer,
  cached_input_tokens  integer,
  reasoning_tokens     integer,
  input_size_bytes     bigint,
  output_size_bytes    bigint,
  latency_ms           double precision NOT NULL,
  compute_ms           double precision,
  cost_usd             numeric(20, 10),
  cost_source          text NOT NULL CHECK (cost_source IN ('provided', 'computed', 'unpriced')),
  success              boolean NOT NULL,
  error_code           text,
  error_message        text,
  fallback_used        boolean NOT NULL DEFAULT false,
  fallback_reason      text,
  fallback_model       text,
  provenance           jsonb,
  tags                 jsonb,
  consent              boolean NOT NULL DEFAULT false,
  created_at           timestamptz NOT NULL,
  received_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, created_at, id)
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS ai_events_default PARTITION OF ai_events DEFAULT;

CREATE INDEX IF NOT EXISTS ai_events_org_model_time_idx ON ai_events (org_id, model_name, created_at);

-- Creates the monthly partition holding `at` when it is missing. Called by the service at start-up
-- and daily for the months ahead. Rows already sitting in the default partition for that month are
-- moved into the new partition, so a late partition never fails on the default's contents.
CREATE OR REPLACE FUNCTION ai_events_ensure_partition(at timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  month_start timestamptz := date_trunc('month', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  month_end   timestamptz := month_start + interval '1 month';
  part_name   text := 'ai_events_' || to_char(month_start AT TIME ZONE 'UTC', 'YYYYMM');
  stash_name  text := 'ai_events_stash_' || to_char(month_start AT TIME ZONE 'UTC', 'YYYYMM');
BEGIN
  IF to_regclass(part_name) IS NOT NULL THEN
    RETURN part_name;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('ai_events_ensure_partition'));
  IF to_regclass(part_name) IS NOT NULL THEN
    RETURN part_name;
  END IF;
  EXECUTE format('CREATE TEMP TABLE %I ON COMMIT DROP AS SELECT * FROM ai_events_default WHERE created_at >= %L AND created_at < %L',
                 stash_name, month_start, month_end);
  EXECUTE format('DELETE FROM ai_events_default WHERE created_at >= %L AND created_at < %L', month_start, month_end);
  EXECUTE format('CREATE TABLE %I PARTITION OF ai_events FOR VALUES FROM (%L) TO (%L)', part_name, month_start, month_end);
  EXECUTE format('INSERT INTO ai_events SELECT * FROM %I', stash_name);
  EXECUTE format('DROP TABLE %I', stash_name);
  RETURN part_name;
END;
$$;

CREATE TABLE IF NOT EXISTS exports (
  id            uuid PRIMARY KEY,
  org_id        text NOT NULL REFERENCES orgs(id),
  created_by    uuid,
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'completed', 'failed')),
  format        text NOT NULL CHECK (format IN ('csv', 'json', 'jsonl')),
  gzip          boolean NOT NULL DEFAULT true,
  filters       jsonb NOT NULL DEFAULT '{}'::jsonb,
  row_count     bigint,
  file_size     bigint,
  storage_key   text,
  error         text,
  attempts      integer NOT NULL DEFAULT 0,
  locked_by     text,
  lease_until   timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  started_at    timestamptz,
  completed_at  timestamptz,
  expires_at    timestamptz
);
CREATE INDEX IF NOT EXISTS exports_org_idx ON exports (org_id, created_at DESC);
CREATE INDEX IF NOT EXISTS exports_claim_idx ON exports (status, created_at) WHERE status IN ('pending', 'running');

CREATE TABLE IF NOT EXISTS alerts (
  id            uuid PRIMARY KEY,
  org_id        text REFERENCES orgs(id),
  source        text NOT NULL CHECK (source IN ('prometheus', 'builtin')),
  fingerprint   text NOT NULL,
  name          text NOT NULL,
  severity      text NOT NULL DEFAULT 'warning',
  summary       text,
  description   text,
  status        text NOT NULL CHECK (status IN ('active', 'acknowledged', 'resolved')),
  labels        jsonb NOT NULL DEFAULT '{}'::jsonb,
  annotations   jsonb NOT NULL DEFAULT '{}'::jsonb,
  started_at    timestamptz NOT NULL,
  ended_at      timestamptz,
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_fingerprint_idx ON alerts (source, fingerprint, started_at);
CREATE INDEX IF NOT EXISTS alerts_org_idx ON alerts (org_id, status, started_at DESC);

CREATE TABLE IF NOT EXISTS alert_acknowledgements (
  id               uuid PRIMARY KEY,
  alert_id         uuid NOT NULL REFERENCES alerts(id),
  org_id           text NOT NULL REFERENCES orgs(id),
  acknowledged_by  uuid NOT NULL,
  note             text,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS alert_acks_alert_idx ON alert_acknowledgements (alert_id, created_at);

CREATE TABLE IF NOT EXISTS audit_log (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  org_id      text,
  actor       text NOT NULL,
  action      text NOT NULL,
  target      text,
  ip          text,
  details     jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS audit_log_org_idx ON audit_log (org_id, created_at DESC);

-- audit_log is append-only: updates and deletes are refused at the database.
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
