import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test-support/database.ts';
import { expandSql, loadDashboard, sqlQueries } from './dashboard.ts';

const dashboard = loadDashboard();
const queries = sqlQueries(dashboard);
const byPanel = (title: string) => {
  const query = queries.find((q) => q.panel === title);
  if (!query) throw new Error(`no PostgreSQL panel titled ${title}`);
  return query.text;
};

/** Columns that hold personal data or free text from callers; the events table must never show them. */
const personalDataColumns = ['user_id', 'request_id', 'error_message', 'provenance', 'tags', 'client_id'];

const now = new Date();
const window = { from: new Date(now.getTime() - 6 * 3600_000), to: new Date(now.getTime() + 60_000) };
const all = { ...window, org_id: ['.*'], model_name: ['.*'] };

let db: TestDatabase;

async function seed() {
  await db.pool.query(`INSERT INTO orgs (id, name) VALUES ('acme', 'Acme'), ('beta', 'Beta')`);
  const event = (org: string, model: string, minutesAgo: number, extra: Record<string, unknown> = {}) => ({
    id: randomUUID(),
    org_id: org,
    model_name: model,
    latency_ms: 120,
    cost_usd: 0.002,
    cost_source: 'computed',
    success: true,
    user_id: 'user-42@example.com',
    request_id: 'req-1',
    client_id: 'client-7',
    error_message: null,
    created_at: new Date(now.getTime() - minutesAgo * 60_000),
    ...extra,
  });
  const events = [
    event('acme', 'gpt-4o', 1),
    event('acme', 'gpt-4o', 2, {
      success: false,
      error_code: 'rate_limited',
      error_message: 'quota of jane@example.com',
    }),
    event('acme', 'claude-sonnet', 3, { fallback_used: true, fallback_model: 'claude-sonnet' }),
    event('acme', 'in-house-7b', 4, { cost_usd: null, cost_source: 'unpriced' }),
    event('beta', 'gpt-4o', 5),
    // Outside the dashboard's time range: must not show.
    event('acme', 'gpt-4o', 60 * 24 * 3),
  ];
  for (const e of events) {
    const columns = Object.keys(e);
    await db.pool.query(
      `INSERT INTO ai_events (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
      Object.values(e),
    );
  }
  await db.pool.query(
    `INSERT INTO exports (id, org_id, status, format, row_count, created_at)
     VALUES ($1, 'acme', 'completed', 'csv', 4, now() - interval '5 minutes'),
            ($2, 'beta', 'pending', 'json', NULL, now() - interval '1 minute')`,
    [randomUUID(), randomUUID()],
  );
  const alertId = randomUUID();
  await db.pool.query(
    `INSERT INTO alerts (id, org_id, source, fingerprint, name, severity, summary, status, labels, started_at)
     VALUES ($1, 'acme', 'prometheus', 'f1', 'AIErrorRateSpike', 'critical', 'errors above 5%', 'acknowledged',
             '{"model_name": "gpt-4o"}', now() - interval '10 minutes'),
            ($2, 'beta', 'builtin', 'f2', 'cost', 'warning', 'daily cost', 'active', '{}', now() - interval '3 minutes'),
            ($3, 'acme', 'prometheus', 'f3', 'AILongLatencyP95', 'critical', 'slow', 'resolved', '{}', now() - interval '2 hours'),
            ($4, NULL, 'prometheus', 'f4', 'ObservatoryTargetDown', 'critical', 'target down', 'active', '{}', now() - interval '1 minute')`,
    [alertId, randomUUID(), randomUUID(), randomUUID()],
  );
  await db.pool.query(
    `INSERT INTO alert_acknowledgements (id, alert_id, org_id, acknowledged_by, note) VALUES ($1, $2, 'acme', $3, 'on it')`,
    [randomUUID(), alertId, randomUUID()],
  );
}

beforeAll(async () => {
  db = await createTestDatabase();
  await seed();
});

describe('dashboard SQL against the migrated schema', () => {
  it('has the three PostgreSQL tables and the cost-by-model panel', () => {
    expect(queries.map((q) => q.panel).sort()).toEqual(
      ['Active alerts', 'Cost by model', 'Export jobs', 'Recent AI events'].sort(),
    );
  });

  it('runs every query with the org and model variables set to All and to one value', async () => {
    for (const q of queries) {
      for (const selection of [
        all,
        { ...window, org_id: ['acme'], model_name: ['gpt-4o', "it's-a-model"] },
      ]) {
        const sql = expandSql(q.text, selection);
        await expect(db.pool.query(sql), `${q.panel}\n${sql}`).resolves.toBeDefined();
      }
    }
  });

  it('shows recent events of the selected org and time range, without personal data columns', async () => {
    const { rows, fields } = await db.pool.query(expandSql(byPanel('Recent AI events'), all));
    expect(rows).toHaveLength(5);
    const columns = fields.map((f) => f.name);
    for (const column of personalDataColumns) expect(columns).not.toContain(column);
    expect(columns).toEqual(
      expect.arrayContaining(['time', 'org_id', 'model_name', 'latency_ms', 'cost_usd', 'success']),
    );
    expect(JSON.stringify(rows)).not.toMatch(/example\.com|req-1|client-7/);

    const acmeOnly = await db.pool.query(
      expandSql(byPanel('Recent AI events'), { ...all, org_id: ['acme'] }),
    );
    expect(acmeOnly.rows.map((r) => r.org_id)).toEqual(['acme', 'acme', 'acme', 'acme']);
    const newestFirst = acmeOnly.rows.map((r) => (r.time as Date).getTime());
    expect(newestFirst).toEqual([...newestFirst].sort((a, b) => b - a));

    const oneModel = await db.pool.query(
      expandSql(byPanel('Recent AI events'), { ...all, model_name: ['gpt-4o'] }),
    );
    expect(oneModel.rows.map((r) => r.model_name)).toEqual(['gpt-4o', 'gpt-4o', 'gpt-4o']);
  });

  it('sums cost per model and counts unpriced calls apart instead of as $0', async () => {
    const { rows } = await db.pool.query(expandSql(byPanel('Cost by model'), { ...all, org_id: ['acme'] }));
    const byModel = Object.fromEntries(rows.map((r) => [r.model_name, r]));
    expect(Number(byModel['gpt-4o'].calls)).toBe(2);
    expect(Number(byModel['gpt-4o'].cost_usd)).toBeCloseTo(0.004);
    expect(byModel['in-house-7b'].cost_usd).toBeNull();
    expect(Number(byModel['in-house-7b'].unpriced_calls)).toBe(1);
  });

  it('lists export jobs with their status, newest first', async () => {
    const { rows } = await db.pool.query(expandSql(byPanel('Export jobs'), all));
    expect(rows.map((r) => [r.org_id, r.status])).toEqual([
      ['beta', 'pending'],
      ['acme', 'completed'],
    ]);
  });

  it('lists unresolved alerts of the org, and org-less ones, with the latest acknowledgement', async () => {
    const { rows } = await db.pool.query(expandSql(byPanel('Active alerts'), { ...all, org_id: ['acme'] }));
    expect(rows.map((r) => r.name)).toEqual(['ObservatoryTargetDown', 'AIErrorRateSpike']);
    const spike = rows.find((r) => r.name === 'AIErrorRateSpike')!;
    expect(spike.acknowledgement_note).toBe('on it');
    expect(spike.model_name).toBe('gpt-4o');
  });
});
