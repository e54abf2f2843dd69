-- Decision traces (issue 16): the content of model calls, captured only when an org opted in, encrypted at rest.

-- Per-org data keys (AES-256), stored only wrapped by the master key (`query-api/src/crypto/`): `master_key_id`
-- names the master key that wrapped it, so `observatory keys rotate-master` re-wraps rows under another one without
-- touching any ciphertext. An org has one data key, made when it first captures.
CREATE TABLE IF NOT EXISTS org_data_keys (
  org_id         text PRIMARY KEY REFERENCES orgs(id),
  wrapped_key    bytea NOT NULL,
  master_key_id  text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  rewrapped_at   timestamptz
);

-- One row per captured model call: its content as AES-256-GCM ciphertext (nonce ‖ ciphertext ‖ tag) under the org's
-- data key, with the org and event id as associated data, so a ciphertext moved to another row fails to decrypt.
-- No foreign key, as nothing references ai_events (a partition is dropped whole); a row is read only through its
-- event. Retention removes rows by `created_at` (`trace_retention_days`, or `retention_days` when shorter).
CREATE TABLE IF NOT EXISTS ai_event_content (
  org_id      text NOT NULL,
  created_at  timestamptz NOT NULL,
  event_id    uuid NOT NULL,
  ciphertext  bytea NOT NULL,
  PRIMARY KEY (org_id, event_id)
);
CREATE INDEX IF NOT EXISTS ai_event_content_org_time_idx ON ai_event_content (org_id, created_at);

-- Scopes a key holds beyond its role: `traces:read` lets a viewer key read decision traces.
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS scopes text[] NOT NULL DEFAULT '{}';
