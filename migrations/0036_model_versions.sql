-- Model version registry (issue 16): which versions of each model an org's calls used, and deployments recorded.

-- First and last event seen per org × model × version, kept by a statement-level trigger on ai_events from
-- `model_version` (the wrapper's attribute, or the response model when it differs from the requested one). One
-- upsert per distinct version per INSERT statement (a batch usually holds one or two), not per event.
CREATE TABLE IF NOT EXISTS model_versions (
  org_id      text NOT NULL,
  model_name  text NOT NULL,
  version     text NOT NULL,
  first_seen  timestamptz NOT NULL,
  last_seen   timestamptz NOT NULL,
  PRIMARY KEY (org_id, model_name, version)
);

CREATE OR REPLACE FUNCTION model_versions_capture() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO model_versions AS mv (org_id, model_name, version, first_seen, last_seen)
  SELECT org_id, model_name, model_version, min(created_at), max(created_at)
  FROM new_rows WHERE model_version IS NOT NULL
  GROUP BY org_id, model_name, model_version
  -- Sorted, so concurrent batches lock shared rows in the same order and never deadlock.
  ORDER BY org_id, model_name, model_version
  ON CONFLICT (org_id, model_name, version) DO UPDATE
    SET first_seen = least(mv.first_seen, EXCLUDED.first_seen),
        last_seen = greatest(mv.last_seen, EXCLUDED.last_seen)
    WHERE EXCLUDED.first_seen < mv.first_seen OR EXCLUDED.last_seen > mv.last_seen;
  RETURN NULL;
END;
$$;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'ai_events_model_versions'
                 AND tgrelid = 'ai_events'::regclass) THEN
    CREATE TRIGGER ai_events_model_versions AFTER INSERT ON ai_events
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION model_versions_capture();
  END IF;
END;
$$;

-- Versions of events stored before this migration.
INSERT INTO model_versions (org_id, model_name, version, first_seen, last_seen)
SELECT org_id, model_name, model_version, min(created_at), max(created_at)
FROM ai_events WHERE model_version IS NOT NULL
GROUP BY org_id, model_name, model_version
ON CONFLICT (org_id, model_name, version) DO UPDATE
  SET first_seen = least(model_versions.first_seen, EXCLUDED.first_seen),
      last_seen = greatest(model_versions.last_seen, EXCLUDED.last_seen);

-- Deployments recorded through the API or `observatory models deploy`: who, when, a note, the configuration.
CREATE TABLE IF NOT EXISTS model_deployments (
  id             uuid PRIMARY KEY,
  org_id         text NOT NULL REFERENCES orgs(id),
  model_name     text NOT NULL,
  version        text NOT NULL,
  deployed_at    timestamptz NOT NULL,
  deployed_by    text NOT NULL,
  note           text,
  configuration  jsonb,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS model_deployments_org_model_idx ON model_deployments (org_id, model_name, deployed_at);
