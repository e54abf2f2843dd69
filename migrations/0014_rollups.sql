-- Rollups of ai_events maintained as events commit (issue 14).
--
-- The write path never updates a rollup row: a statement-level trigger appends one *delta* row per key per INSERT
-- statement into an append-only table (no upsert contention between concurrent writers), and a compactor (one runner
-- across replicas, under an advisory lock) moves deltas into the hourly and daily tables in one transaction. Reads
-- union the compacted tables with the deltas not yet compacted, in one statement, so they are exact at any moment.
--
-- Two families, each with a delta table, an hourly and a daily table:
--   ai_rollup_*       org × model × endpoint × service × provider. Models, endpoints (routes), services and providers
--                     are low-cardinality, so a bucket holds at most the combinations seen in it (tens, not millions).
--   ai_rollup_user_*  org × user_id: cost attribution per user. Users are many, so they get a narrow key of their own
--                     instead of multiplying the main key; a bucket holds at most the users active in it. Rows
--                     without a user are not counted here.
-- A row never exists for a key with no events in its bucket, so no rollup can outgrow the raw rows it summarises.
-- NULL endpoint/service/provider are stored as '' (keys must be NOT NULL to be unique on PostgreSQL 14); reads turn
-- '' back into NULL.
--
-- Count maps (jsonb objects of text → count, merged by adding per key):
--   latency_hist, ttft_hist  log-scale histograms, see obs_hist_index(); ttft counts only calls that report it
--   errors_by_code           failed calls by coalesce(error_code, 'unknown')
--   fallbacks_by             fallen-back calls by the JSON text of [fallback_reason, fallback_model]
--
-- Raw rows may later be deleted (retention) or re-inserted (archive restore): the rollups outlive them. A restore
-- sets `SET LOCAL observatory.skip_rollups = on` so its re-inserted rows are not counted twice.

-- Bucket of a latency-like value (ms) in a log-scale histogram with relative accuracy α = 0.02 (DDSketch's mapping):
-- γ = (1 + α) / (1 − α), index i = ceil(log_γ x), so bucket i holds (γ^(i−1), γ^i] and its estimate 2γ^i / (γ + 1)
-- is within 2 % of every value in it. Values under 0.01 ms (including 0) share the zero bucket -9999, estimated as 0
-- (absolute error < 0.01 ms). Infinity and NaN, which the event schema refuses anyway, land in the top bucket
-- instead of failing the writer's statement.
CREATE OR REPLACE FUNCTION obs_hist_index(x double precision) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN x IS NULL THEN NULL
    WHEN x < 0.01 THEN -9999
    ELSE ceil(ln(least(x, 1e300)) / ln(1.02::float8 / 0.98::float8))::integer
  END
$$;

-- Adds count maps key by key: {"a": 1} + {"a": 2, "b": 1} = {"a": 3, "b": 1}. NULL elements count as empty.
CREATE OR REPLACE FUNCTION obs_counts_merge(maps jsonb[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(jsonb_object_agg(key, n), '{}'::jsonb)
  FROM (SELECT e.key, sum(e.value::bigint) AS n FROM unnest(maps) AS m(map), jsonb_each_text(m.map) AS e GROUP BY e.key) s
$$;

CREATE TABLE IF NOT EXISTS ai_rollup_delta (
  org_id               text NOT NULL,
  bucket               timestamptz NOT NULL,  -- the hour (UTC)
  model_name           text NOT NULL,
  endpoint             text NOT NULL,
  service_name         text NOT NULL,
  provider             text NOT NULL,
  calls                bigint NOT NULL,
  errors               bigint NOT NULL,
  fallbacks            bigint NOT NULL,
  input_tokens         bigint NOT NULL,
  output_tokens        bigint NOT NULL,
  cached_input_tokens  bigint NOT NULL,
  reasoning_tokens     bigint NOT NULL,
  cost_usd             numeric NOT NULL,
  unpriced_calls       bigint NOT NULL,
  ttft_calls           bigint NOT NULL,
  latency_hist         jsonb NOT NULL,
  ttft_hist            jsonb NOT NULL,
  errors_by_code       jsonb NOT NULL,
  fallbacks_by         jsonb NOT NULL
);
-- Deltas live seconds; the index keeps reads cheap even when the compactor falls behind. One index entry per key per
-- INSERT statement, not per event.
CREATE INDEX IF NOT EXISTS ai_rollup_delta_org_idx ON ai_rollup_delta (org_id, bucket);

CREATE TABLE IF NOT EXISTS ai_rollup_hour (LIKE ai_rollup_delta);
CREATE UNIQUE INDEX IF NOT EXISTS ai_rollup_hour_key ON ai_rollup_hour
  (org_id, bucket, model_name, endpoint, service_name, provider);
CREATE TABLE IF NOT EXISTS ai_rollup_day (LIKE ai_rollup_delta);
CREATE UNIQUE INDEX IF NOT EXISTS ai_rollup_day_key ON ai_rollup_day
  (org_id, bucket, model_name, endpoint, service_name, provider);

CREATE TABLE IF NOT EXISTS ai_rollup_user_delta (
  org_id               text NOT NULL,
  bucket               timestamptz NOT NULL,
  user_id              text NOT NULL,
  calls                bigint NOT NULL,
  errors               bigint NOT NULL,
  fallbacks            bigint NOT NULL,
  input_tokens         bigint NOT NULL,
  output_tokens        bigint NOT NULL,
  cached_input_tokens  bigint NOT NULL,
  reasoning_tokens     bigint NOT NULL,
  cost_usd             numeric NOT NULL,
  unpriced_calls       bigint NOT NULL,
  ttft_calls           bigint NOT NULL,
  latency_hist         jsonb NOT NULL,
  ttft_hist            jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS ai_rollup_user_delta_org_idx ON ai_rollup_user_delta (org_id, bucket);
CREATE TABLE IF NOT EXISTS ai_rollup_user_hour (LIKE ai_rollup_user_delta);
CREATE UNIQUE INDEX IF NOT EXISTS ai_rollup_user_hour_key ON ai_rollup_user_hour (org_id, bucket, user_id);
CREATE TABLE IF NOT EXISTS ai_rollup_user_day (LIKE ai_rollup_user_delta);
CREATE UNIQUE INDEX IF NOT EXISTS ai_rollup_user_day_key ON ai_rollup_user_day (org_id, bucket, user_id);

-- The trigger: new_rows holds only the rows this statement actually inserted, so rows skipped by the writer's
-- ON CONFLICT DO NOTHING (a re-delivered span) are not counted. Each family is aggregated in one pass over new_rows:
-- scalar sums per key, and every count-map entry unpivoted into (key, map, label) rows counted once.
CREATE OR REPLACE FUNCTION ai_rollup_capture() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('observatory.skip_rollups', true) = 'on' THEN
    RETURN NULL;
  END IF;

  WITH k AS MATERIALIZED (
    SELECT org_id, date_trunc('hour', created_at, 'UTC') AS bucket, model_name, coalesce(endpoint, '') AS endpoint,
           coalesce(service_name, '') AS service_name, coalesce(provider, '') AS provider, success, fallback_used,
           input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost_usd, cost_source, latency_ms,
           ttft_ms, error_code, fallback_reason, fallback_model, user_id
    FROM new_rows
  ),
  sums AS (
    SELECT org_id, bucket, model_name, endpoint, service_name, provider,
           count(*) AS calls, count(*) FILTER (WHERE NOT success) AS errors,
           count(*) FILTER (WHERE fallback_used) AS fallbacks,
           coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens,
           coalesce(sum(cached_input_tokens), 0) AS cached_input_tokens,
           coalesce(sum(reasoning_tokens), 0) AS reasoning_tokens, coalesce(sum(cost_usd), 0) AS cost_usd,
           count(*) FILTER (WHERE cost_source = 'unpriced') AS unpriced_calls,
           count(ttft_ms) AS ttft_calls
    FROM k GROUP BY 1, 2, 3, 4, 5, 6
  ),
  labels AS (
    SELECT org_id, bucket, model_name, endpoint, service_name, provider, v.map, v.label, count(*) AS n
    FROM k CROSS JOIN LATERAL (VALUES
      ('l', obs_hist_index(latency_ms)::text),
      ('t', obs_hist_index(ttft_ms)::text),
      ('e', CASE WHEN NOT success THEN coalesce(error_code, 'unknown') END),
      ('f', CASE WHEN fallback_used THEN jsonb_build_array(fallback_reason, fallback_model)::text END)
    ) AS v(map, label)
    WHERE v.label IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
  ),
  maps AS (
    SELECT org_id, bucket, model_name, endpoint, service_name, provider,
           coalesce(jsonb_object_agg(label, n) FILTER (WHERE map = 'l'), '{}') AS latency_hist,
           coalesce(jsonb_object_agg(label, n) FILTER (WHERE map = 't'), '{}') AS ttft_hist,
           coalesce(jsonb_object_agg(label, n) FILTER (WHERE map = 'e'), '{}') AS errors_by_code,
           coalesce(jsonb_object_agg(label, n) FILTER (WHERE map = 'f'), '{}') AS fallbacks_by
    FROM labels GROUP BY 1, 2, 3, 4, 5, 6
  ),
  main AS (
    INSERT INTO ai_rollup_delta
    SELECT s.*, m.latency_hist, m.ttft_hist, m.errors_by_code, m.fallbacks_by
    FROM sums s JOIN maps m USING (org_id, bucket, model_name, endpoint, service_name, provider)
  ),
  user_sums AS (
    SELECT org_id, bucket, user_id,
           count(*) AS calls, count(*) FILTER (WHERE NOT success) AS errors,
           count(*) FILTER (WHERE fallback_used) AS fallbacks,
           coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens,
           coalesce(sum(cached_input_tokens), 0) AS cached_input_tokens,
           coalesce(sum(reasoning_tokens), 0) AS reasoning_tokens, coalesce(sum(cost_usd), 0) AS cost_usd,
           count(*) FILTER (WHERE cost_source = 'unpriced') AS unpriced_calls,
           count(ttft_ms) AS ttft_calls
    FROM k WHERE user_id IS NOT NULL GROUP BY 1, 2, 3
  ),
  user_labels AS (
    SELECT org_id, bucket, user_id, v.map, v.label, count(*) AS n
    FROM k CROSS JOIN LATERAL (VALUES
      ('l', obs_hist_index(latency_ms)::text),
      ('t', obs_hist_index(ttft_ms)::text)
    ) AS v(map, label)
    WHERE user_id IS NOT NULL AND v.label IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5
  ),
  user_maps AS (
    SELECT org_id, bucket, user_id,
           coalesce(jsonb_object_agg(label, n) FILTER (WHERE map = 'l'), '{}') AS latency_hist,
           coalesce(jsonb_object_agg(label, n) FILTER (WHERE map = 't'), '{}') AS ttft_hist
    FROM user_labels GROUP BY 1, 2, 3
  )
  INSERT INTO ai_rollup_user_delta
  SELECT s.*, m.latency_hist, m.ttft_hist
  FROM user_sums s JOIN user_maps m USING (org_id, bucket, user_id);

  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS ai_events_rollup ON ai_events;
CREATE TRIGGER ai_events_rollup AFTER INSERT ON ai_events
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ai_rollup_capture();

-- A late partition moves the default partition's rows into it by DELETE and INSERT: those rows are already counted,
-- so the move runs with the rollup trigger off (the SET clause restores the caller's setting on return).
ALTER FUNCTION ai_events_ensure_partition(timestamptz) SET observatory.skip_rollups = 'on';
