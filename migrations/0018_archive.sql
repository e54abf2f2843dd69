-- Archive of ai_events to Parquet (issue 15): one row per verified file, one or more files (parts) per org and
-- archived time range, never more than one month. A row is written only after its file was read back from storage
-- (row count and SHA-256), so the retention job may delete what a row covers.
CREATE TABLE IF NOT EXISTS archives (
  id              uuid PRIMARY KEY,
  org_id          text NOT NULL REFERENCES orgs(id),
  month           text NOT NULL CHECK (month ~ '^[0-9]{4}-[0-9]{2}$'),
  range_from      timestamptz NOT NULL,
  range_to        timestamptz NOT NULL,
  part            integer NOT NULL CHECK (part >= 0),
  row_count       bigint NOT NULL CHECK (row_count >= 0),
  min_created_at  timestamptz,
  max_created_at  timestamptz,
  schema_version  integer NOT NULL,
  sha256          text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  file_size       bigint NOT NULL,
  storage_key     text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  verified_at     timestamptz NOT NULL,
  CHECK (range_from < range_to),
  UNIQUE (org_id, range_from, range_to, part)
);

-- Parquet export files.
ALTER TABLE exports DROP CONSTRAINT IF EXISTS exports_format_check;
ALTER TABLE exports ADD CONSTRAINT exports_format_check CHECK (format IN ('csv', 'json', 'jsonl', 'parquet'));
