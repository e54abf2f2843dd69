-- The Grafana reader (deploy/postgres/10-grafana-reader.sh) used to get SELECT on every table through default
-- privileges, so a dashboard login could read api_keys, sessions and audit_log of every org. It now reads what the
-- dashboard shows and nothing else: the events, and the listed columns of export jobs and alerts (never an export's
-- filters or creating key, never who acknowledged). It is deployment-wide by design: the dashboard is an operator's
-- view across orgs; tenants read through the API, which scopes every query to their org.
--
-- observatory_restrict_reader(role) sets exactly these privileges and can run again at any time, e.g. as the schema
-- owner after creating the reader role on a database migrated before it existed.
CREATE OR REPLACE FUNCTION observatory_restrict_reader(reader name) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  -- Tables created later (by a future migration or a new partition) grant the reader nothing by themselves.
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM %I', reader);
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM %I', reader);
  EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', reader);
  EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %I', reader);
  EXECUTE format('GRANT SELECT ON ai_events TO %I', reader);
  EXECUTE format(
    'GRANT SELECT (id, org_id, status, format, gzip, row_count, file_size, attempts, error, created_at, started_at,'
    ' completed_at, expires_at) ON exports TO %I', reader);
  EXECUTE format(
    'GRANT SELECT (id, org_id, source, name, severity, status, summary, labels, started_at) ON alerts TO %I',
    reader);
  EXECUTE format('GRANT SELECT (alert_id, created_at, note) ON alert_acknowledgements TO %I', reader);
END;
$$;
REVOKE ALL ON FUNCTION observatory_restrict_reader(name) FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'grafana_reader') THEN
    PERFORM observatory_restrict_reader('grafana_reader');
  END IF;
END;
$$;
