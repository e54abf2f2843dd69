-- Export jobs: the cleanup pass finds expired jobs by expires_at, and the per-org rate limit counts an
-- org's recent jobs (served by exports_org_idx from 0001).
CREATE INDEX IF NOT EXISTS exports_expiry_idx ON exports (expires_at) WHERE expires_at IS NOT NULL;
