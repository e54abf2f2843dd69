import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { insertModelCalls, logNormalLatencies, seededRandom } from '../../../test-support/model-calls.ts';
import { RuleEngine } from '../alerts/engine.ts';
import { AlertRuleInputSchema, type RuleMetric } from '../alerts/schema.ts';
import * as alertSql from '../alerts/sql.ts';
import { ensureOrg } from '../keys/keys.ts';
import { createLogger } from '../log.ts';
import { DriftRunner } from './runner.ts';

const db = await createTestDatabase();
await ensureOrg(db.pool, 'acme');
await ensureOrg(db.pool, 'globex');
const logger = createLogger('silent');
const engine = new RuleEngine({ pool: db.pool, logger });

// Two models with the same log-normal latencies (median 800 ms) over the 7-day baseline. In the last 24 h "steady"
// draws a fresh sample of the same distribution; "slowed" draws one too, three times slower.
const random = seededRandom(14);
for (const model of ['steady', 'slowed']) {
  await insertModelCalls(db.pool, {
    orgId: 'acme',
    model,
    latencies: logNormalLatencies(random, 3000, 800),
    fromHoursAgo: 24 * 7.5,
    toHoursAgo: 25,
  });
  await insertModelCalls(db.pool, {
    orgId: 'acme',
    model,
    latencies: logNormalLatencies(random, 600, model === 'slowed' ? 2400 : 800),
    fromHoursAgo: 23,
    toHoursAgo: 0.1,
  });
}
// globex's copy of "steady" slows down as well: acme's rules must not see it.
await insertModelCalls(db.pool, {
  orgId: 'globex',
  model: 'steady',
  latencies: logNormalLatencies(random, 1000, 800),
  fromHoursAgo: 24 * 7.5,
  toHoursAgo: 25,
});
await insertModelCalls(db.pool, {
  orgId: 'globex',
  model: 'steady',
  latencies: logNormalLatencies(random, 300, 8000),
  fromHoursAgo: 23,
  toHoursAgo: 0.1,
});

async function addRule(orgId: string, metric: RuleMetric, model: string | null) {
  const rule = AlertRuleInputSchema.parse({
    name: `${metric} ${model ?? 'any model'} ${randomUUID()}`,
    metric,
    model_name: model,
    threshold: 0.25,
    window_seconds: 2 * 86_400,
  });
  const { rows } = await db.pool.query<{ id: string }>(alertSql.insertRule(randomUUID(), orgId, rule));
  return rows[0]!.id;
}

async function evaluateNow() {
  await db.pool.query('UPDATE alert_rules SET next_evaluation_at = now()');
  await engine.evaluate();
}

async function ruleState(ruleId: string) {
  const { rows } = await db.pool.query<{ last_value: number | null; alerts: number }>(
    `SELECT r.last_value, (SELECT count(*)::int FROM alerts a WHERE a.rule_id = r.id) AS alerts
     FROM alert_rules r WHERE r.id = $1`,
    [ruleId],
  );
  return rows[0]!;
}

describe('psi_* alert rules', () => {
  it('fire on a shifted distribution and stay silent on a resampled one', async () => {
    const steady = await addRule('acme', 'psi_latency', 'steady');
    const slowed = await addRule('acme', 'psi_latency', 'slowed');
    const anyModel = await addRule('acme', 'psi_latency', null);
    const tokens = await addRule('acme', 'psi_input_tokens', 'slowed');

    // Nothing computed yet: no value, no alert.
    await evaluateNow();
    expect(await ruleState(slowed)).toEqual({ last_value: null, alerts: 0 });

    await new DriftRunner({ pool: db.pool, logger }).run();
    await evaluateNow();

    const steadyState = await ruleState(steady);
    expect(steadyState.alerts).toBe(0);
    expect(steadyState.last_value).toBeLessThan(0.1);

    const slowedState = await ruleState(slowed);
    expect(slowedState.alerts).toBe(1);
    expect(slowedState.last_value).toBeGreaterThan(0.25);
    const { rows: alert } = await db.pool.query(
      'SELECT status, value, summary, labels FROM alerts WHERE rule_id = $1',
      [slowed],
    );
    expect(alert[0]).toMatchObject({ status: 'active', value: slowedState.last_value });
    expect(alert[0].labels).toMatchObject({ metric: 'psi_latency', model_name: 'slowed' });

    // Without a model: the largest of acme's models, never globex's far larger one.
    const any = await ruleState(anyModel);
    expect(any).toEqual({ last_value: slowedState.last_value, alerts: 1 });
    // Input tokens did not move (every call 100).
    expect(await ruleState(tokens)).toEqual({ last_value: 0, alerts: 0 });
  });

  it('ignores PSI older than the rule window', async () => {
    const recentOnly = await addRule('acme', 'psi_latency', 'slowed');
    await db.pool.query("UPDATE model_drift SET computed_at = computed_at - interval '3 days'");
    await evaluateNow();
    expect(await ruleState(recentOnly)).toEqual({ last_value: null, alerts: 0 });
  });
});
