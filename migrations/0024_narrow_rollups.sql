-- Narrow rollups, one per read (issue 14), replacing 0014's wide key.
--
-- 0014 keyed its rollups org × model × endpoint × service × provider: with independent dimensions a bucket holds
-- nearly one row per event, so the rollup was as big as the raw rows and every read as slow. Here every read has its
-- own narrow table, each row summing one bucket of one key:
--   ai_roll_org_{hour,day}       org                        overview, series
--   ai_roll_dim_{hour,day}       org × (dim, value)         models, series of one model, breakdowns; dim is one of
--                                                           model_name, endpoint, service_name, provider, user_id
--   ai_roll_error_{hour,day}     org × error code × model   errors: count, first/last seen, newest message
--   ai_roll_fallback_{hour,day}  org × model × fallback model × reason   fallbacks
-- A bucket holds at most one row per value seen in it, whatever the other dimensions do. NULL endpoint, service,
-- provider, user, fallback model and reason are stored as '' (keys must be NOT NULL), so the rows of one dimension
-- always add up to the org's.
--
-- Write path: the insert trigger appends the primary key (org_id, created_at, id) of every row the statement really
-- inserted to ai_rollup_pending (rows skipped by ON CONFLICT DO NOTHING are not in new_rows): one narrow heap row per
-- event, no index, no upsert, so concurrent writers never wait on each other. A compactor (one runner across
-- replicas, advisory lock) takes pending keys, aggregates their rows and adds them into the hour and day rows in one
-- transaction: incremental, late events included (each lands in its own bucket). Reads add the pending rows (raw) to
-- the rollups in one statement, so they are exact at any moment whether or not the compactor has run.

-- Latency/TTFT histograms: bigint[] of packed (bucket, count) pairs, ascending by bucket, only buckets with a
-- count: element = (obs_hist_index(x) + 10000) · 2^32 + count. Bucket i holds (γ^(i−1), γ^i], γ = 1.02/0.98, so its
-- estimate 2γ^i/(γ+1) is within 2 % of every value in it (see obs_hist_index in 0014). A dense fixed-length array
-- would need ~440 buckets (8 bytes each) per row to cover 0.1 ms..1 h at 2 %: 3.5 kB on each of the millions of
-- user × hour rows, most of them holding a handful of calls. Packed values stay under 2^53 (exact as JavaScript
-- numbers) and a count per bucket per row under 2^32.
--
-- Events stored before this migration: a background backfill (the compactor, one UTC day per step, newest first)
-- rolls them up; ai_rollup_state.backfill_before is the day it has reached, and reads take raw rows for everything
-- before it; pending keys of those days are dropped as a step rolls the day up from raw rows. This migration does no
-- backfill in its own transaction, so it never holds ingest.

DROP TRIGGER IF EXISTS ai_events_rollup ON ai_events;
DROP FUNCTION IF EXISTS ai_rollup_capture();
DROP TABLE IF EXISTS ai_rollup_delta, ai_rollup_hour, ai_rollup_day, ai_rollup_user_delta, ai_rollup_user_hour,
  ai_rollup_user_day;
DROP FUNCTION IF EXISTS obs_counts_merge(jsonb[]);

-- Packs one (bucket, count) pair; see above.
CREATE OR REPLACE FUNCTION obs_hist_pack(bucket integer, n bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (bucket::bigint + 10000) * 4294967296 + n $$;

-- Adds packed histograms bucket by bucket (pass them concatenated): the compactor adds a batch to a stored row.
CREATE OR REPLACE FUNCTION obs_hist_merge(hists bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(obs_hist_pack(b, n) ORDER BY b), '{}')
  FROM (SELECT (v >> 32)::integer - 10000 AS b, sum(v & 4294967295)::bigint AS n FROM unnest(hists) AS v GROUP BY 1) s
  WHERE n > 0
$$;

CREATE TABLE IF NOT EXISTS ai_roll_org_hour (
  org_id               text NOT NULL,
  bucket               timestamptz NOT NULL,
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
  latency_hist         bigint[] NOT NULL,
  ttft_hist            bigint[] NOT NULL,
  PRIMARY KEY (org_id, bucket)
);
CREATE TABLE IF NOT EXISTS ai_roll_org_day (LIKE ai_roll_org_hour INCLUDING INDEXES);

CREATE TABLE IF NOT EXISTS ai_roll_dim_hour (
  org_id               text NOT NULL,
  dim                  text NOT NULL,
  bucket               timestamptz NOT NULL,
  value                text NOT NULL,
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
  latency_hist         bigint[] NOT NULL,
  ttft_hist            bigint[] NOT NULL,
  PRIMARY KEY (org_id, dim, bucket, value)
);
CREATE TABLE IF NOT EXISTS ai_roll_dim_day (LIKE ai_roll_dim_hour INCLUDING INDEXES);
-- Breakdowns rank a dimension's values by cost and calls before reading anything else: an index-only scan of these
-- (by user, a month is ~150,000 day rows whose histograms make the table several times wider).
CREATE INDEX IF NOT EXISTS ai_roll_dim_hour_rank ON ai_roll_dim_hour (org_id, dim, bucket, value) INCLUDE (calls, cost_usd);
CREATE INDEX IF NOT EXISTS ai_roll_dim_day_rank ON ai_roll_dim_day (org_id, dim, bucket, value) INCLUDE (calls, cost_usd);
-- Then they read the top values' rows (and one model's, for its series) by value.
CREATE INDEX IF NOT EXISTS ai_roll_dim_hour_value ON ai_roll_dim_hour (org_id, dim, value, bucket);
CREATE INDEX IF NOT EXISTS ai_roll_dim_day_value ON ai_roll_dim_day (org_id, dim, value, bucket);

CREATE TABLE IF NOT EXISTS ai_roll_error_hour (
  org_id               text NOT NULL,
  bucket               timestamptz NOT NULL,
  error_code           text NOT NULL,  -- coalesce(error_code, 'unknown')
  model_name           text NOT NULL,
  count                bigint NOT NULL,
  first_seen           timestamptz NOT NULL,
  last_seen            timestamptz NOT NULL,
  -- The newest failure of the key that has a message (already scrubbed in ai_events), with its time.
  message_at           timestamptz,
  message              text,
  PRIMARY KEY (org_id, bucket, error_code, model_name)
);
CREATE TABLE IF NOT EXISTS ai_roll_error_day (LIKE ai_roll_error_hour INCLUDING INDEXES);

CREATE TABLE IF NOT EXISTS ai_roll_fallback_hour (
  org_id               text NOT NULL,
  bucket               timestamptz NOT NULL,
  model_name           text NOT NULL,
  fallback_model       text NOT NULL,
  fallback_reason      text NOT NULL,
  count                bigint NOT NULL,
  PRIMARY KEY (org_id, bucket, model_name, fallback_model, fallback_reason)
);
CREATE TABLE IF NOT EXISTS ai_roll_fallback_day (LIKE ai_roll_fallback_hour INCLUDING INDEXES);

-- Events committed but not yet in the rollups, by primary key; the compactor deletes the ones it has added.
CREATE TABLE IF NOT EXISTS ai_rollup_pending (
  org_id      text NOT NULL,
  created_at  timestamptz NOT NULL,
  id          uuid NOT NULL
);

-- One row. backfill_before: events before it are not rolled up yet (reads take raw rows there); '-infinity' once the
-- backfill is done. A database holding events gets tomorrow (UTC), so the backfill starts with today.
CREATE TABLE IF NOT EXISTS ai_rollup_state (
  one              boolean PRIMARY KEY DEFAULT true CHECK (one),
  backfill_before  timestamptz NOT NULL
);
INSERT INTO ai_rollup_state (backfill_before)
SELECT CASE WHEN EXISTS (SELECT 1 FROM ai_events) THEN date_trunc('day', now(), 'UTC') + interval '1 day'
            ELSE '-infinity' END
ON CONFLICT DO NOTHING;

CREATE OR REPLACE FUNCTION ai_rollup_capture_keys() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('observatory.skip_rollups', true) = 'on' THEN
    RETURN NULL;
  END IF;
  INSERT INTO ai_rollup_pending SELECT org_id, created_at, id FROM new_rows;
  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS ai_events_rollup_pending ON ai_events;
CREATE TRIGGER ai_events_rollup_pending AFTER INSERT ON ai_events
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ai_rollup_capture_keys();

-- A late partition moves the default partition's rows into it by DELETE and INSERT with the rollup trigger off
-- (0014 set observatory.skip_rollups on ai_events_ensure_partition): those rows are counted already.
