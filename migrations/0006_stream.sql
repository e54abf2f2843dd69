-- Browser sessions for the console: EventSource cannot send an Authorization header and a long-lived key must never
-- travel in a URL, so a signed-in console holds a short-lived random token in an HttpOnly cookie; only its hash is
-- stored, and it dies with its key.
CREATE TABLE IF NOT EXISTS sessions (
  token_hash  bytea PRIMARY KEY,
  key_id      uuid NOT NULL REFERENCES api_keys(id),
  org_id      text NOT NULL,
  role        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expires_at);

-- Live-stream replay reads an org's events received in the last minutes. received_at grows with insertion order,
-- so a BRIN index finds them at almost no ingest cost (a btree on it would cost a quarter of the ingest ceiling).
CREATE INDEX IF NOT EXISTS ai_events_received_brin ON ai_events USING brin (received_at);
