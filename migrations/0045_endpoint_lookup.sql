-- One endpoint's events newest first (issue 14). Without it an endpoint page read the org's rows newest first through
-- the primary key and dropped the others: at 10 M events in one org, an endpoint taking 1 % of calls read ~10,000 rows
-- per page of 100 (18 ms) while its capped count could never finish within its 25 ms bound, and a value matching
-- nothing (a typo) read all 10 M rows (3.5 s). Endpoints are few per org and time grows, so inserts land at one right
-- edge per endpoint, like the model index; rows without an endpoint skip it. `npm run bench` (BENCH_ONLY=query)
-- prints raw COPY with and without it.
CREATE INDEX IF NOT EXISTS ai_events_org_endpoint_time_idx ON ai_events (org_id, endpoint, created_at)
  WHERE endpoint IS NOT NULL;
