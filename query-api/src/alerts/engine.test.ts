import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ADVISORY_LOCKS } from '@observatory/exporter-postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { ensureOrg } from '../keys/keys.ts';
import { createLogger } from '../log.ts';
import { RuleEngine } from './engine.ts';
import { type AlertEvent, AlertEvents } from './events.ts';
import { type AlertRuleInput, AlertRuleInputSchema } from './schema.ts';
import * as sql from './sql.ts';

const db = await createTestDatabase();
await ensureOrg(db.pool, 'acme');
await ensureOrg(db.pool, 'globex');
await ensureOrg(db.pool, 'initech');

// A webhook receiver that fails its first `failFirst` requests with 500, like a flaky endpoint.
const received: { path: string; body: Record<string, unknown> }[] = [];
let failFirst = 2;
let requests = 0;
const receiver = createServer((req, res) => {
  let data = '';
  req.on('data', (chunk) => {
    data += chunk;
  });
  req.on('end', () => {
    requests++;
    if (requests <= failFirst) {
      res.writeHead(500).end('try again');
      return;
    }
    received.push({ path: req.url ?? '', body: JSON.parse(data) });
    res.writeHead(200).end('ok');
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

const events = new AlertEvents();
const seen: AlertEvent[] = [];
events.on('alert', (e) => seen.push(e));
const engine = new RuleEngine({
  pool: db.pool,
  logger: createLogger('silent'),
  events,
  delivery: { allowPrivate: true, backoffMs: 10, timeoutMs: 2000, maxAttempts: 4 },
});

async function addRule(
  orgId: string,
  input: Partial<AlertRuleInput> & Pick<AlertRuleInput, 'metric' | 'threshold'>,
) {
  const rule = AlertRuleInputSchema.parse({ name: `rule-${randomUUID()}`, window_seconds: 300, ...input });
  const { rows } = await db.pool.query<{ id: string }>(sql.insertRule(randomUUID(), orgId, rule));
  return rows[0]!.id;
}

async function addEvents(
  orgId: string,
  count: number,
  fields: {
    success?: boolean;
    model?: string;
    latencyMs?: number;
    ttftMs?: number;
    cost?: number;
    fallback?: boolean;
  } = {},
) {
  await db.pool.query(
    `INSERT INTO ai_events (id, org_id, model_name, latency_ms, ttft_ms, cost_usd, cost_source, success, fallback_used, created_at)
     SELECT gen_random_uuid(), $1, $2, $3, $4, $5, 'computed', $6, $7, now() - interval '1 second' FROM generate_series(1, $8)`,
    [
      orgId,
      fields.model ?? 'gpt-4o',
      fields.latencyMs ?? 100,
      fields.ttftMs ?? null,
      fields.cost ?? 0.01,
      fields.success ?? true,
      fields.fallback ?? false,
      count,
    ],
  );
}

/** Makes every rule due and runs one evaluation pass, as the timer in `serve` would. */
async function evaluateNow(): Promise<number> {
  await db.pool.query('UPDATE alert_rules SET next_evaluation_at = now()');
  return engine.evaluate();
}

async function alertsOf(ruleId: string) {
  const { rows } = await db.pool.query(
    'SELECT id, org_id, status, value, notification_status, summary FROM alerts WHERE rule_id = $1 ORDER BY started_at',
    [ruleId],
  );
  return rows;
}

describe('built-in rule engine', () => {
  it('fires once, notifies after two failed attempts, honours cooldown, resolves, and ignores other orgs', async () => {
    const ruleId = await addRule('acme', {
      metric: 'error_rate',
      threshold: 0.1,
      cooldown_seconds: 3600,
      severity: 'critical',
      channels: [{ type: 'webhook', url: `${base}/hook` }],
    });

    // Another org failing every call is invisible to acme's rule; acme without traffic does not fire either.
    await addEvents('globex', 50, { success: false });
    expect(await evaluateNow()).toBe(1);
    expect(await alertsOf(ruleId)).toEqual([]);

    await addEvents('acme', 5, { success: true });
    await addEvents('acme', 5, { success: false });
    await evaluateNow();
    await engine.settled();
    const [opened] = await alertsOf(ruleId);
    expect(opened).toMatchObject({
      org_id: 'acme',
      status: 'active',
      value: 0.5,
      notification_status: 'delivered',
    });
    expect(opened.summary).toContain('50.00%');
    expect(requests).toBe(3);
    expect(received).toHaveLength(1);
    expect(received[0]!.body).toMatchObject({
      event: 'firing',
      org_id: 'acme',
      alert: { id: opened.id, severity: 'critical' },
    });
    const { rows: deliveries } = await db.pool.query(
      'SELECT event, status, attempts FROM alert_notifications WHERE alert_id = $1',
      [opened.id],
    );
    expect(deliveries).toEqual([{ event: 'firing', status: 'delivered', attempts: 3 }]);
    expect(seen.filter((e) => e.change === 'opened').map((e) => e.alert.id)).toEqual([opened.id]);

    // Still failing: the same alert stays open, nothing is re-sent.
    await evaluateNow();
    await engine.settled();
    expect(await alertsOf(ruleId)).toHaveLength(1);
    expect(received).toHaveLength(1);

    // Recovered: resolved, and the resolution is notified.
    await addEvents('acme', 200, { success: true });
    await evaluateNow();
    await engine.settled();
    expect(await alertsOf(ruleId)).toMatchObject([{ id: opened.id, status: 'resolved' }]);
    expect(received.map((r) => r.body.event)).toEqual(['firing', 'resolved']);
    expect(seen.at(-1)).toMatchObject({ change: 'resolved', orgId: 'acme' });

    // Failing again inside the cooldown: no new alert, no notification.
    await addEvents('acme', 400, { success: false });
    await evaluateNow();
    await engine.settled();
    expect(await alertsOf(ruleId)).toHaveLength(1);
    expect(received).toHaveLength(2);

    // Once the cooldown has passed, it fires again.
    await db.pool.query("UPDATE alert_rules SET last_fired_at = now() - interval '2 hours' WHERE id = $1", [
      ruleId,
    ]);
    await evaluateNow();
    await engine.settled();
    const all = await alertsOf(ruleId);
    expect(all.map((a) => a.status)).toEqual(['resolved', 'active']);
    expect(received.map((r) => r.body.event)).toEqual(['firing', 'resolved', 'firing']);
    await db.pool.query('UPDATE alert_rules SET enabled = false');
  });

  it('watches latency, cost, fallbacks and request counts, with an optional model filter', async () => {
    await addEvents('globex', 20, { model: 'slow', latencyMs: 9000, cost: 2, fallback: true });
    await addEvents('globex', 20, { model: 'fast', latencyMs: 50, cost: 0 });
    const slowP95 = await addRule('globex', { metric: 'p95_latency', threshold: 5000, model_name: 'slow' });
    const fastP95 = await addRule('globex', { metric: 'p95_latency', threshold: 5000, model_name: 'fast' });
    const cost = await addRule('globex', { metric: 'cost', threshold: 30 });
    const fallback = await addRule('globex', { metric: 'fallback_rate', threshold: 0.6 });
    const quiet = await addRule('globex', {
      metric: 'request_count',
      operator: '<',
      threshold: 10,
      model_name: 'unused',
    });
    const noTraffic = await addRule('globex', {
      metric: 'error_rate',
      threshold: 0,
      operator: '>=',
      model_name: 'unused',
    });
    await evaluateNow();
    expect(await alertsOf(slowP95)).toMatchObject([{ status: 'active', value: 9000 }]);
    expect(await alertsOf(fastP95)).toEqual([]);
    // 20 calls at 2 USD plus the 50 failing globex calls at 0.01 USD from the first test.
    expect(await alertsOf(cost)).toMatchObject([{ status: 'active', value: 40.5 }]);
    expect(await alertsOf(fallback)).toEqual([]);
    expect(await alertsOf(quiet)).toMatchObject([{ status: 'active', value: 0 }]);
    expect(await alertsOf(noTraffic)).toEqual([]);
  });

  it('watches the p95 time to first token of streamed calls only, and is silent without any', async () => {
    // Two slow streams among many calls that did not stream: counted as zeros, those would hide them.
    await addEvents('initech', 2, { model: 'streamer', latencyMs: 4000, ttftMs: 3000 });
    await addEvents('initech', 40, { model: 'streamer', latencyMs: 50 });
    // Slow calls whose first tokens came fast.
    await addEvents('initech', 20, { model: 'quick', latencyMs: 9000, ttftMs: 100 });
    await addEvents('initech', 20, { model: 'batch', latencyMs: 100 });
    const slow = await addRule('initech', { metric: 'p95_ttft', threshold: 1000, model_name: 'streamer' });
    const fast = await addRule('initech', { metric: 'p95_ttft', threshold: 1000, model_name: 'quick' });
    // Any value would be below 1000 here: only the absence of a value keeps it silent.
    const none = await addRule('initech', {
      metric: 'p95_ttft',
      operator: '<',
      threshold: 1000,
      model_name: 'batch',
    });
    await evaluateNow();
    await engine.settled();
    const [opened] = await alertsOf(slow);
    expect(opened).toMatchObject({ status: 'active', value: 3000 });
    expect(opened.summary).toContain('p95_ttft 3000.00');
    expect(await alertsOf(fast)).toEqual([]);
    expect(await alertsOf(none)).toEqual([]);
    await db.pool.query('UPDATE alert_rules SET enabled = false WHERE org_id = $1', ['initech']);
  });

  it('evaluates nothing while another replica holds the evaluator lock', async () => {
    const other = await db.pool.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.alertEngine]);
      expect(await evaluateNow()).toBe(0);
      await other.query('COMMIT');
      expect(await evaluateNow()).toBeGreaterThan(0);
    } finally {
      other.release();
    }
  });

  it('records a failed delivery on the alert without holding up evaluation', async () => {
    failFirst = Number.POSITIVE_INFINITY;
    const ruleId = await addRule('acme', {
      metric: 'request_count',
      threshold: 0,
      channels: [{ type: 'slack', url: `${base}/slack` }],
    });
    await evaluateNow();
    const [pending] = await alertsOf(ruleId);
    expect(pending.notification_status).toBe('pending');
    await engine.settled();
    expect((await alertsOf(ruleId))[0].notification_status).toBe('failed');
    const { rows } = await db.pool.query(
      'SELECT status, attempts, http_status FROM alert_notifications WHERE alert_id = $1',
      [pending.id],
    );
    expect(rows).toEqual([{ status: 'failed', attempts: 4, http_status: 500 }]);
  });
});
