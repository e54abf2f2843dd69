-- Tamper-evident audit: every audit row written from now on carries its chain's sequence number, the HMAC of the
-- previous row of its chain and an HMAC-SHA256 over its own canonical content and that previous HMAC (computed by
-- the service: the key never reaches the database). One chain per org; rows without an org form the '' chain.
-- Rows written before this migration keep NULL in the new columns and stay outside the chains: their key did not
-- exist then, so they cannot be backfilled honestly; `observatory audit verify` counts them apart.

ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS seq bigint;
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS prev_hash bytea;
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS hmac bytea;

CREATE UNIQUE INDEX IF NOT EXISTS audit_log_chain_idx ON audit_log ((coalesce(org_id, '')), seq)
  WHERE seq IS NOT NULL;

-- The last row of each chain. Appending locks this row, so appends to one chain are serialised (and those of
-- different orgs are not), and it lets `verify` see rows deleted from the end of a chain.
CREATE TABLE IF NOT EXISTS audit_chain_heads (
  chain  text PRIMARY KEY,
  seq    bigint NOT NULL DEFAULT 0,
  hash   bytea NOT NULL DEFAULT decode(repeat('00', 32), 'hex')
);
