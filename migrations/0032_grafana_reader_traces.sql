-- The Grafana reader (0012) reads what the dashboard can show: since issue 18 that includes the spans around model
-- calls (ai_spans) and the per-trace and per-session summaries (ai_traces, ai_sessions: 0030, 0031). The function
-- is redefined with those grants, the rest unchanged, and applied again to `grafana_reader` when it exists.
CREATE OR REPLACE FUNCTION observatory_restrict_reader(reader name) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  -- Tables created later (by a future migration or a new partition) grant the reader nothing by themselves.
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM %I', reader);
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM %I', reader);
  EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', reader);
  EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %I', reader);
  EXECUTE format('GRANT SELECT ON ai_events TO %I', reader);
  EXECUTE format('GRANT SELECT ON ai_spans TO %I', reader);
  EXECUTE format('GRANT SELECT ON ai_traces TO %I', reader);
  EXECUTE format('GRANT SELECT ON ai_sessions TO %I', reader);
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
