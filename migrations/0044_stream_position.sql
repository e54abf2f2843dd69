-- The live stream's position in commit order (issue 21 follow-up). received_at orders rows by when their batch was
-- received, but batches from several replicas commit in another order, so a client resuming after a later-received
-- row missed earlier-received rows that committed after it. xact_id is the inserting transaction's id; every
-- transaction below pg_snapshot_xmin(pg_current_snapshot()) has ended, so the rows below that horizon, in
-- (xact_id, id) order, are a prefix that no later commit changes. Rows from before this migration keep NULL: they
-- sort before every stream position.
ALTER TABLE ai_events ADD COLUMN IF NOT EXISTS xact_id xid8;
ALTER TABLE ai_events ALTER COLUMN xact_id SET DEFAULT pg_current_xact_id();

-- The stream's reads: one org's rows after a position. Transaction ids grow, so each org appends at its right edge.
CREATE INDEX IF NOT EXISTS ai_events_org_xact_idx ON ai_events (org_id, xact_id, id);
