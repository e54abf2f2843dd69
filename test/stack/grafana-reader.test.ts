import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEvent } from '../../exporter-postgres/test/make-event.ts';
import { AuditTrail } from '../../query-api/src/audit/trail.ts';
import { createKey } from '../../query-api/src/keys/keys.ts';
import { createSession } from '../../query-api/src/keys/sessions.ts';
import { createTestDatabase } from '../../test-support/database.ts';
import { insertEvents } from '../../test-support/insert-events.ts';
import { expandSql, loadDashboard, sqlQueries } from './dashboard.ts';
import { readRepoFile } from './stack-files.ts';

/**
 * The Grafana reader role as a deployment that predates migration 0012 has it (SELECT on every table, by default
 * privileges too), then with the reader's current migration (0032, which redefines 0012's function with the spans and
 * trace summaries) applied: it reads the events, spans and traces and what the dashboard shows, and is refused
 * keys, sessions, audit, settings and any table created later. Roles are cluster-wide, so this one has a name of its
 * own instead of `grafana_reader`, put into the migration's text.
 */

const db = await createTestDatabase();
const reader = `obs_reader_${randomBytes(4).toString('hex')}`;
const password = randomBytes(16).toString('hex');
const migration = readRepoFile('migrations/0032_grafana_reader_traces.sql').replaceAll(
  "'grafana_reader'",
  `'${reader}'`,
);
let asReader: pg.Client;

beforeAll(async () => {
  await insertEvents(db.pool, [
    makeEvent({ org_id: 'acme', trace_id: randomBytes(16).toString('hex') }),
    makeEvent({ org_id: 'globex', trace_id: randomBytes(16).toString('hex') }),
  ]);
  const key = await createKey(db.pool, { orgId: 'acme', role: 'org_admin' });
  await createSession(db.pool, { keyId: key.id, orgId: 'acme', role: 'org_admin' });
  await AuditTrail.ephemeral().record(db.pool, {
    orgId: 'acme',
    actor: key.id,
    action: 'keys.create',
    target: key.id,
  });
  await db.pool.query(
    `INSERT INTO exports (id, org_id, created_by, format, filters) VALUES ($1, 'acme', $2, 'csv', $3)`,
    [randomUUID(), key.id, JSON.stringify({ user_id: 'jane@example.com' })],
  );

  await db.pool.query(`CREATE ROLE ${reader} LOGIN PASSWORD '${password}'`);
  await db.pool.query(`GRANT USAGE ON SCHEMA public TO ${reader}`);
  await db.pool.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${reader}`);
  await db.pool.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ${reader}`);
  const url = new URL(db.url);
  url.username = reader;
  url.password = password;
  asReader = new pg.Client({ connectionString: url.toString() });
  asReader.on('error', () => undefined);
  await asReader.connect();
});

afterAll(async () => {
  await asReader?.end();
  await db.pool.query(`DROP OWNED BY ${reader}`);
  await db.pool.query(`DROP ROLE ${reader}`);
});

/** The SQLSTATE the reader gets for `sql`, or 'ok'. */
async function attempt(sql: string): Promise<string> {
  try {
    await asReader.query(sql);
    return 'ok';
  } catch (err) {
    return (err as { code: string }).code;
  }
}

const PERMISSION_DENIED = '42501';
const PRIVATE_TABLES = [
  'api_keys',
  'sessions',
  'audit_log',
  'audit_chain_heads',
  'alert_rules',
  'alert_notifications',
  'orgs',
  'schema_migrations',
];

describe('the Grafana reader role', () => {
  it('could read keys, sessions and audit before the migration (the gap this closes)', async () => {
    expect(await attempt('SELECT key_hash FROM api_keys')).toBe('ok');
    expect(await attempt('SELECT token_hash FROM sessions')).toBe('ok');
  });

  it('after the migration (applied twice) reads the events and is refused everything private', async () => {
    await db.pool.query(migration);
    await db.pool.query(migration);

    for (const table of PRIVATE_TABLES) {
      expect(await attempt(`SELECT * FROM ${table} LIMIT 1`), table).toBe(PERMISSION_DENIED);
    }
    expect(await attempt('SELECT filters FROM exports')).toBe(PERMISSION_DENIED);
    expect(await attempt('SELECT created_by FROM exports')).toBe(PERMISSION_DENIED);
    expect(await attempt('SELECT acknowledged_by FROM alerts')).toBe(PERMISSION_DENIED);
    expect(await attempt('INSERT INTO ai_events (id) VALUES (gen_random_uuid())')).toBe(PERMISSION_DENIED);

    // Deployment-wide: the operator's dashboard sees every org's events.
    const { rows } = await asReader.query<{ org_id: string }>(
      'SELECT DISTINCT org_id FROM ai_events ORDER BY 1',
    );
    expect(rows.map((r) => r.org_id)).toEqual(['acme', 'globex']);
    // The trace view: the spans around model calls and the per-trace summaries.
    expect(await attempt('SELECT span_kind, name FROM ai_spans LIMIT 1')).toBe('ok');
    const traces = await asReader.query<{ org_id: string }>(
      'SELECT DISTINCT org_id FROM ai_traces ORDER BY 1',
    );
    expect(traces.rows.map((r) => r.org_id)).toEqual(['acme', 'globex']);
    expect(await attempt('SELECT session_id, traces FROM ai_sessions LIMIT 1')).toBe('ok');
  });

  it('still runs every PostgreSQL panel of the dashboard', async () => {
    const now = Date.now();
    const selection = {
      from: new Date(now - 3600_000),
      to: new Date(now + 60_000),
      org_id: ['.*'],
      model_name: ['.*'],
    };
    for (const query of sqlQueries(loadDashboard())) {
      expect(await attempt(expandSql(query.text, selection)), query.panel).toBe('ok');
    }
  });

  it('gets nothing from a table created after the migration', async () => {
    await db.pool.query('CREATE TABLE later_settings (secret text)');
    expect(await attempt('SELECT * FROM later_settings')).toBe(PERMISSION_DENIED);
  });
});
