#!/bin/sh
# Runs once, when the postgres container initialises an empty data directory.
# Grafana reads through its own role, which can only SELECT: a dashboard query can never change data.
# The tables do not exist yet; Observatory's migration 0012_grafana_reader.sql grants this role SELECT on the
# events and on the export and alert columns the dashboard shows, and nothing else (never keys, sessions or audit).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set=db="$POSTGRES_DB" --set=reader_password="$GRAFANA_DB_PASSWORD" <<'SQL'
CREATE ROLE grafana_reader LOGIN PASSWORD :'reader_password';
GRANT CONNECT ON DATABASE :"db" TO grafana_reader;
GRANT USAGE ON SCHEMA public TO grafana_reader;
SQL
