#!/bin/sh
# Runs once, when the postgres container initialises an empty data directory.
# Grafana reads through its own role, which can only SELECT: a dashboard query can never change data.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set=owner="$POSTGRES_USER" --set=db="$POSTGRES_DB" --set=reader_password="$GRAFANA_DB_PASSWORD" <<'SQL'
CREATE ROLE grafana_reader LOGIN PASSWORD :'reader_password';
GRANT CONNECT ON DATABASE :"db" TO grafana_reader;
GRANT USAGE ON SCHEMA public TO grafana_reader;
-- The tables do not exist yet (Observatory creates them when it migrates), hence default privileges.
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO grafana_reader;
SQL
