-- Per-org settings live in orgs.settings (0001): a JSON object holding only what an admin set; the one zod schema in
-- query-api/src/settings/schema.ts gives types, bounds and defaults, so adding a setting needs no migration.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'orgs_settings_is_object') THEN
    ALTER TABLE orgs ADD CONSTRAINT orgs_settings_is_object CHECK (jsonb_typeof(settings) = 'object');
  END IF;
END;
$$;

-- The range of an org's events the retention job is archiving or deleting, written before the archive starts and
-- removed once the range is deleted (in the same transaction as a partition's DROP). A run killed midway resumes
-- exactly this range before any other: archived again with the same bounds while `archived_rows` is null (the
-- archive is idempotent per org and range), only deleted once it is set (never archived again half-deleted).
CREATE TABLE IF NOT EXISTS retention_pending (
  org_id         text PRIMARY KEY,
  range_from     timestamptz NOT NULL,
  range_to       timestamptz NOT NULL CHECK (range_to > range_from),
  archived_rows  bigint,
  started_at     timestamptz NOT NULL DEFAULT now()
);

-- One row per retention run that finished, with what it did; the daily schedule runs when the newest is a day old.
CREATE TABLE IF NOT EXISTS retention_runs (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  started_at   timestamptz NOT NULL,
  finished_at  timestamptz NOT NULL DEFAULT now(),
  org_id       text,
  report       jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS retention_runs_finished_idx ON retention_runs (finished_at DESC);
