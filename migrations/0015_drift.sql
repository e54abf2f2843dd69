-- Drift: the daily Population Stability Index of each org × model × feature, kept as history (one row per UTC day;
-- recomputing a day replaces its row). Written only by the drift runner, read by `action=drift` and psi_* rules.

CREATE TABLE IF NOT EXISTS model_drift (
  org_id          text NOT NULL REFERENCES orgs(id),
  model_name      text NOT NULL,
  feature         text NOT NULL CHECK (feature IN ('latency_ms', 'input_tokens', 'output_tokens', 'cost_usd')),
  day             date NOT NULL,
  computed_at     timestamptz NOT NULL DEFAULT now(),
  window_start    timestamptz NOT NULL,
  window_end      timestamptz NOT NULL,
  baseline_start  timestamptz NOT NULL,
  baseline_end    timestamptz NOT NULL,
  -- NULL when either window has too few values (reading 'insufficient_data').
  psi             double precision,
  reading         text NOT NULL CHECK (reading IN ('stable', 'moderate', 'significant', 'insufficient_data')),
  -- Interior bin edges from the baseline's deciles (duplicates merged), and each window's share per bin.
  bin_edges       jsonb NOT NULL DEFAULT '[]'::jsonb,
  baseline_bins   jsonb NOT NULL DEFAULT '[]'::jsonb,
  current_bins    jsonb NOT NULL DEFAULT '[]'::jsonb,
  baseline_n      bigint NOT NULL,
  current_n       bigint NOT NULL,
  PRIMARY KEY (org_id, model_name, feature, day)
);
-- The API's "latest within a range" and the runner's "is today done" read by org and time.
CREATE INDEX IF NOT EXISTS model_drift_org_time_idx ON model_drift (org_id, computed_at DESC);
