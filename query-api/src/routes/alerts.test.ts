import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { type AlertEvent, AlertEvents } from '../alerts/events.ts';
import { createApp } from '../app.ts';
import { createKey } from '../keys/keys.ts';
import { createLogger } from '../log.ts';

const db = await createTestDatabase();
const TOKEN = 'alertmanager-test-token-0123456789';
const events = new AlertEvents();
const seen: AlertEvent[] = [];
events.on('alert', (e) => seen.push(e));
const app = createApp({
  pool: db.pool,
  logger: createLogger('silent'),
  alerting: { alertmanagerToken: TOKEN, events },
});
const admin = await createKey(db.pool, { orgId: 'acme', role: 'org_admin' });
const viewer = await createKey(db.pool, { orgId: 'acme', role: 'viewer' });
const otherAdmin = await createKey(db.pool, { orgId: 'globex', role: 'org_admin' });

function payload(status: 'firing' | 'resolved', overrides: Record<string, unknown> = {}) {
  return {
    version: '4',
    status,
    receiver: 'observatory',
    groupKey: '{}:{alertname="AIErrorRateSpike"}',
    alerts: [
      {
        status,
        labels: { alertname: 'AIErrorRateSpike', org_id: 'acme', model_name: 'gpt-4o', severity: 'critical' },
        annotations: {
          summary: 'Error rate 40%',
          description: '40% of calls failed',
          runbook: 'https://x/y',
        },
        startsAt: '2026-11-24T10:00:00.123456789Z',
        endsAt: status === 'resolved' ? '2026-11-24T10:20:00Z' : '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus/graph',
        fingerprint: 'abc123',
        ...overrides,
      },
    ],
  };
}

function post(body: unknown, token = TOKEN) {
  return app.request('/api/telemetry/alerts/webhook', {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

interface AlertJson {
  id: string;
  name: string;
  status: string;
  acknowledged_at: string | null;
  [field: string]: unknown;
}
interface ProblemJson {
  errors: { field: string }[];
}

async function json<T>(res: Response | Promise<Response>): Promise<T> {
  return (await res).json() as Promise<T>;
}

const list = async (query: string, key: string) =>
  (await json<{ alerts: AlertJson[] }>(get(`/api/telemetry/alerts${query}`, key))).alerts;

const get = (path: string, key: string) => app.request(path, { headers: { authorization: `Bearer ${key}` } });
const ack = (id: string, key: string, body?: unknown) =>
  app.request(`/api/telemetry/alerts/${id}/ack`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

describe('Alertmanager webhook', () => {
  it('is refused when no token is configured, and with a wrong token', async () => {
    const unconfigured = createApp({ pool: db.pool, logger: createLogger('silent') });
    const res = await unconfigured.request('/api/telemetry/alerts/webhook', {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(payload('firing')),
    });
    expect(res.status).toBe(403);
    expect((await post(payload('firing'), 'wrong-token')).status).toBe(401);
    expect(await list('', admin.key)).toEqual([]);
  });

  it('rejects payloads that are not Alertmanager version 4, naming the field', async () => {
    const res = await post({ ...payload('firing'), version: '3' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect((await json<ProblemJson>(res)).errors[0]!.field).toBe('version');
  });

  it('stores firing alerts for the org in the org_id label, then resolves them by fingerprint', async () => {
    expect(await json(post(payload('firing')))).toEqual({ stored: 1 });
    expect(await json(post(payload('firing')))).toEqual({ stored: 1 });
    const alerts = await list('?status=active', viewer.key);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      name: 'AIErrorRateSpike',
      severity: 'critical',
      summary: 'Error rate 40%',
      description: '40% of calls failed',
      status: 'active',
      source: 'prometheus',
      acknowledged_by: null,
      started_at: '2026-11-24T10:00:00.123Z',
    });
    expect(await list('', otherAdmin.key)).toEqual([]);
    expect(seen.filter((e) => e.change === 'opened')).toHaveLength(1);

    await post(payload('resolved'));
    await post(payload('resolved'));
    expect(seen.filter((e) => e.change === 'resolved')).toHaveLength(1);
    const after = await list('', viewer.key);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ status: 'resolved', ended_at: '2026-11-24T10:20:00.000Z' });
    expect(await list('?status=active', viewer.key)).toEqual([]);
    expect(seen.at(-1)).toMatchObject({ change: 'resolved', orgId: 'acme' });
  });
});

describe('alert list and acknowledgement', () => {
  it('filters by severity and status, and 400s on an unknown status', async () => {
    await post(
      payload('firing', {
        fingerprint: 'warn1',
        labels: { alertname: 'AIFallbackRateHigh', org_id: 'acme', severity: 'warning' },
      }),
    );
    const warnings = await list('?severity=warning', viewer.key);
    expect(warnings.map((a) => a.name)).toEqual(['AIFallbackRateHigh']);
    const bad = await get('/api/telemetry/alerts?status=open', viewer.key);
    expect(bad.status).toBe(400);
    expect((await json<ProblemJson>(bad)).errors[0]!.field).toBe('status');
  });

  it('acknowledges for org admins only, twice harmlessly, with an audit row; other orgs get 404', async () => {
    await post(payload('firing', { fingerprint: 'ack1', startsAt: '2026-11-24T11:00:00Z' }));
    const alerts = await list('?status=active&severity=critical', viewer.key);
    const id = alerts[0]!.id;

    expect((await ack(id, viewer.key)).status).toBe(403);
    expect((await ack(id, otherAdmin.key)).status).toBe(404);
    expect((await ack('not-a-uuid', admin.key)).status).toBe(400);

    const first = await ack(id, admin.key, { note: 'looking into it' });
    expect(first.status).toBe(200);
    const acked = await json<AlertJson>(first);
    expect(acked).toMatchObject({ id, status: 'acknowledged', acknowledged_by: admin.id });
    expect(acked.acknowledged_at).toBeTruthy();
    const second = await ack(id, admin.key);
    expect(second.status).toBe(200);
    expect((await json<AlertJson>(second)).acknowledged_at).toBe(acked.acknowledged_at);

    const listed = await list('?status=acknowledged', viewer.key);
    expect(listed.map((a) => a.id)).toEqual([id]);
    const { rows: acks } = await db.pool.query(
      'SELECT note FROM alert_acknowledgements WHERE alert_id = $1 ORDER BY created_at',
      [id],
    );
    expect(acks.map((r) => r.note)).toEqual(['looking into it', null]);
    const { rows: audit } = await db.pool.query(
      "SELECT org_id, actor FROM audit_log WHERE action = 'alert.ack' AND target = $1",
      [id],
    );
    expect(audit[0]).toEqual({ org_id: 'acme', actor: admin.id });
    expect(seen.some((e) => e.change === 'acknowledged' && e.alert.id === id)).toBe(true);

    // Alertmanager keeps re-sending the firing alert: it stays acknowledged until it resolves.
    await post(payload('firing', { fingerprint: 'ack1', startsAt: '2026-11-24T11:00:00Z' }));
    const still = await list('?status=acknowledged', viewer.key);
    expect(still.map((a) => a.id)).toEqual([id]);
  });
});
