import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { createApp } from '../app.ts';
import { createKey } from '../keys/keys.ts';
import { createLogger } from '../log.ts';

const db = await createTestDatabase();
const app = createApp({ pool: db.pool, logger: createLogger('silent') });
const privateApp = createApp({
  pool: db.pool,
  logger: createLogger('silent'),
  alerting: { allowPrivateWebhooks: true },
});
const admin = await createKey(db.pool, { orgId: 'acme', role: 'org_admin' });
const viewer = await createKey(db.pool, { orgId: 'acme', role: 'viewer' });
const otherAdmin = await createKey(db.pool, { orgId: 'globex', role: 'org_admin' });

const DEFAULT_RULES = [
  'Error rate above 5%',
  'p99 latency above 10 s',
  'Fallback rate above 10%',
  'Cost per hour above 100 USD',
];

interface RuleJson {
  id: string;
  name: string;
  threshold: number;
  [field: string]: unknown;
}
interface ProblemJson {
  errors: { field: string }[];
}

const rule = {
  name: 'gpt-4o errors',
  metric: 'error_rate',
  model_name: 'gpt-4o',
  operator: '>',
  threshold: 0.05,
  window_seconds: 900,
  interval_seconds: 60,
  cooldown_seconds: 600,
  severity: 'critical',
  channels: [{ type: 'slack', url: 'https://93.184.216.34/services/T0/B0/x' }],
};

function call(method: string, path: string, key: string, body?: unknown, on = app) {
  return on.request(`/api/telemetry/alert-rules${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function json<T>(res: Response | Promise<Response>): Promise<T> {
  return (await res).json() as Promise<T>;
}

describe('alert rules API', () => {
  it('creates, lists, reads, replaces and deletes rules of the caller org, with audit rows', async () => {
    const created = await call('POST', '', admin.key, rule);
    expect(created.status).toBe(201);
    const body = await json<RuleJson>(created);
    expect(body).toMatchObject({ ...rule, org_id: 'acme', enabled: true, last_fired_at: null });

    const listed = (await json<{ rules: RuleJson[] }>(call('GET', '', admin.key))).rules;
    expect(listed.filter((r) => !DEFAULT_RULES.includes(r.name)).map((r) => r.id)).toEqual([body.id]);
    expect((await json<RuleJson>(call('GET', `/${body.id}`, admin.key))).name).toBe(rule.name);

    const replaced = await call('PUT', `/${body.id}`, admin.key, { ...rule, threshold: 0.1 });
    expect(replaced.status).toBe(200);
    expect((await json<RuleJson>(replaced)).threshold).toBe(0.1);

    expect((await call('POST', '', admin.key, rule)).status).toBe(409);
    expect((await call('DELETE', `/${body.id}`, admin.key)).status).toBe(204);
    expect((await call('GET', `/${body.id}`, admin.key)).status).toBe(404);

    const { rows } = await db.pool.query(
      "SELECT action FROM audit_log WHERE target = $1 AND action LIKE 'alert_rule.%' ORDER BY id",
      [body.id],
    );
    expect(rows.map((r) => r.action)).toEqual([
      'alert_rule.create',
      'alert_rule.update',
      'alert_rule.delete',
    ]);
  });

  it('is for org admins of the rule org only', async () => {
    const created = await json<RuleJson>(call('POST', '', admin.key, { ...rule, name: 'mine' }));
    expect((await call('GET', '', viewer.key)).status).toBe(403);
    expect((await call('POST', '', viewer.key, rule)).status).toBe(403);
    expect((await call('GET', `/${created.id}`, otherAdmin.key)).status).toBe(404);
    expect((await call('PUT', `/${created.id}`, otherAdmin.key, rule)).status).toBe(404);
    expect((await call('DELETE', `/${created.id}`, otherAdmin.key)).status).toBe(404);
    const theirs = (await json<{ rules: RuleJson[] }>(call('GET', '', otherAdmin.key))).rules;
    expect(theirs.map((r) => r.name).sort()).toEqual([...DEFAULT_RULES].sort());
    expect(theirs.every((r) => r.org_id === 'globex')).toBe(true);
  });

  it('gives every new org the default rules, enabled and without channels, once', async () => {
    const fresh = await createKey(db.pool, { orgId: 'initech', role: 'org_admin' });
    await createKey(db.pool, { orgId: 'initech', role: 'viewer' });
    const { rules } = await json<{ rules: RuleJson[] }>(call('GET', '', fresh.key));
    expect(
      rules.map((r) => [r.name, r.metric, r.operator, r.threshold, r.window_seconds, r.enabled, r.channels]),
    ).toEqual([
      ['Cost per hour above 100 USD', 'cost_per_hour', '>', 100, 3600, true, []],
      ['Error rate above 5%', 'error_rate', '>', 0.05, 300, true, []],
      ['Fallback rate above 10%', 'fallback_rate', '>', 0.1, 1800, true, []],
      ['p99 latency above 10 s', 'p99_latency', '>', 10000, 600, true, []],
    ]);
  });

  it('rejects invalid rules with problem+json naming the field', async () => {
    for (const [bad, field] of [
      [{ ...rule, metric: 'tokens' }, 'metric'],
      [{ ...rule, threshold: 'high' }, 'threshold'],
      [{ ...rule, window_seconds: 0 }, 'window_seconds'],
      [{ ...rule, channels: [{ type: 'pagerduty', url: 'https://93.184.216.34/' }] }, 'channels.0.type'],
      [{ ...rule, channels: [{ type: 'email', to: ['not an address'] }] }, 'channels.0.to.0'],
      [{ ...rule, channels: [{ type: 'webhook', url: 'ftp://93.184.216.34/' }] }, 'channels.0.url'],
      [{ ...rule, channels: [{ type: 'webhook', url: 'http://127.0.0.1:8080/' }] }, 'channels.0.url'],
      [{ ...rule, channels: [{ type: 'webhook', url: 'http://169.254.169.254/' }] }, 'channels.0.url'],
    ] as const) {
      const res = await call('POST', '', admin.key, { ...bad, name: `bad ${field}` });
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect((await json<ProblemJson>(res)).errors.map((e) => e.field)).toContain(field);
    }
    expect((await call('GET', '/not-a-uuid', admin.key)).status).toBe(400);
  });

  it('accepts loopback webhooks only where private webhooks are allowed', async () => {
    const local = {
      ...rule,
      name: 'local',
      channels: [{ type: 'webhook', url: 'http://127.0.0.1:8080/hook' }],
    };
    expect((await call('POST', '', admin.key, local, privateApp)).status).toBe(201);
  });
});
