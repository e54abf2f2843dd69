-- One model's failures, newest first (issue 14): the console's "failures of this model" page. Neither the model index
-- nor the failures index serves it alone: at 10 M events the failures index read ~20,000 failing rows of every model
-- from the heap to find 1,000 of one (700 ms, 6,000 blocks from disk). Only failing rows enter it (~4 %), so ingest
-- pays little; `npm run bench` prints raw COPY with and without it.
CREATE INDEX IF NOT EXISTS ai_events_model_failures_idx ON ai_events (org_id, model_name, created_at)
  WHERE NOT success;
