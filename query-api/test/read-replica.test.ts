import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServe, startServe } from '../../test-support/cli.ts';
import { seedEvents } from '../../test-support/export-events.ts';
import { havePostgresServer, PostgresServer } from '../../test-support/postgres-server.ts';
import { requireTool } from '../../test-support/system-tools.ts';
import { until } from '../../test-support/until.ts';
import { createKey } from '../src/keys/keys.ts';

/**
 * `DATABASE_READ_URL` against a real streaming replica: a primary and a `pg_basebackup -R` standby started here
 * from the Debian binaries, `observatory serve` on both. With the standby's replay paused, list, aggregate, CSV and
 * export reads are stale (they went to the replica) while keys and settings written a moment ago work at once (they
 * went to the primary); `/health` and `/metrics` show the lag.
 */
const run = requireTool('PostgreSQL server binaries', havePostgresServer(), 'postgresql-15');

describe.runIf(run)('read replica (DATABASE_READ_URL)', () => {
  let primary: PostgresServer;
  let standby: PostgresServer;
  let serve: RunningServe;
  let writes: pg.Pool;
  let standbyAdmin: pg.Client;
  let dataDir: string;
  let admin: string;
  const NOW = new Date();

  beforeAll(async () => {
    primary = await PostgresServer.create();
    standby = await PostgresServer.standbyOf(primary);
    dataDir = await mkdtemp(join(tmpdir(), 'observatory-read-replica-'));
    serve = await startServe({
      DATABASE_URL: primary.url(),
      DATABASE_READ_URL: standby.url(),
      OBSERVATORY_DATA_DIR: dataDir,
    });
    writes = new pg.Pool({ connectionString: primary.url(), max: 2 });
    standbyAdmin = new pg.Client({ connectionString: standby.url() });
    await standbyAdmin.connect();
    await seedEvents(writes, 'acme', 10, NOW);
    admin = (await createKey(writes, { orgId: 'acme', role: 'org_admin' })).key;
    // The replica has everything so far, then stops applying what it receives.
    await until('the replica to catch up', async () => (await eventTotal(admin)) === 10);
    await standbyAdmin.query('SELECT pg_wal_replay_pause()');
    await seedEvents(writes, 'acme', 5, new Date(NOW.getTime() - 60_000));
  }, 120_000);

  afterAll(async () => {
    serve?.child.kill('SIGTERM');
    await serve?.exited;
    await standbyAdmin?.end();
    await writes?.end();
    await standby?.destroy();
    await primary?.destroy();
    await rm(dataDir, { recursive: true, force: true });
  });

  function call(key: string, path: string, init: RequestInit = {}) {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${key}`);
    if (init.body) headers.set('content-type', 'application/json');
    return fetch(`${serve.baseUrl}${path}`, { ...init, headers });
  }

  async function eventTotal(key: string): Promise<number> {
    const res = await call(key, '/api/telemetry/events?limit=1');
    return ((await res.json()) as { total: number }).total;
  }

  it('serves list, aggregate and CSV reads from the paused replica: 10 events where the primary has 15', async () => {
    const { rows } = await writes.query("SELECT count(*)::int AS n FROM ai_events WHERE org_id = 'acme'");
    expect(rows[0].n).toBe(15);
    expect(await eventTotal(admin)).toBe(10);

    const overview = await call(admin, '/api/telemetry?action=overview&range=24h');
    expect(overview.status).toBe(200);
    expect(((await overview.json()) as { requests: number }).requests).toBe(10);

    const csv = await call(admin, '/api/telemetry/events/stream');
    expect(csv.status).toBe(200);
    expect(parseCsv(await csv.text())).toHaveLength(1 + 10);
  });

  it('runs exports on the replica: the file has the 10 replicated events', async () => {
    const created = await call(admin, '/api/telemetry/export', {
      method: 'POST',
      body: JSON.stringify({ format: 'jsonl' }),
    });
    expect(created.status).toBe(202);
    const { job_id } = (await created.json()) as { job_id: string };
    const job = await until('the export to complete', async () => {
      const body = (await (await call(admin, `/api/telemetry/export/${job_id}`)).json()) as {
        status: string;
        row_count: number;
      };
      return body.status === 'completed' && body;
    });
    expect(job.row_count).toBe(10);
  });

  it('checks keys and sessions on the primary: a key made after the pause works at once', async () => {
    const fresh = await createKey(writes, { orgId: 'acme', role: 'viewer' });
    const { rows } = await standbyAdmin.query('SELECT count(*)::int AS n FROM api_keys WHERE id = $1', [
      fresh.id,
    ]);
    expect(rows[0].n).toBe(0);
    expect(await eventTotal(fresh.key)).toBe(10);
  });

  it('reads settings back from the primary right after a change', async () => {
    const put = await call(admin, '/api/telemetry/settings', {
      method: 'PUT',
      body: JSON.stringify({ retention_days: 99 }),
    });
    expect(put.status).toBe(200);
    const got = await call(admin, '/api/telemetry/settings');
    expect(((await got.json()) as { retention_days: number }).retention_days).toBe(99);
  });

  it('shows the replication lag on /health and /metrics, and 0 again once replay resumes', async () => {
    const lagged = await until('/health to show a lag', async () => {
      const health = (await (await fetch(`${serve.baseUrl}/health`)).json()) as {
        status: string;
        read_replica: { status: string; lag_seconds: number };
      };
      return health.read_replica.lag_seconds > 0 && health;
    });
    expect(lagged).toMatchObject({ status: 'ok', read_replica: { status: 'ok' } });
    const metrics = await (await fetch(`${serve.baseUrl}/metrics`)).text();
    const gauge = metrics.match(/^observatory_db_replica_lag_seconds (\S+)$/m);
    expect(Number(gauge?.[1])).toBeGreaterThan(0);

    await standbyAdmin.query('SELECT pg_wal_replay_resume()');
    await until('the replica to catch up', async () => (await eventTotal(admin)) === 15);
    await until('/health to show no lag', async () => {
      const health = (await (await fetch(`${serve.baseUrl}/health`)).json()) as {
        read_replica: { lag_seconds: number };
      };
      return health.read_replica.lag_seconds === 0;
    });
  });
});
