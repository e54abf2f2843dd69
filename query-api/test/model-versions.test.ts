import { type AiEvent, decimalToUnits, unitsToDecimal } from '@observatory/exporter-postgres';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { makeEvent } from '../../exporter-postgres/test/make-event.ts';
import { runCli } from '../../test-support/cli.ts';
import { createTestDatabase } from '../../test-support/database.ts';
import { insertEvents } from '../../test-support/insert-events.ts';
import { seededRandom } from '../../test-support/model-calls.ts';
import { createApp } from '../src/app.ts';
import { createKey } from '../src/keys/keys.ts';
import type { ModelVersionsResponse, VersionFigures } from '../src/model-versions/schemas.ts';

const db = await createTestDatabase();
const app = createApp({ pool: db.pool, logger: pino({ level: 'silent' }) });
const admin = (await createKey(db.pool, { orgId: 'acme', role: 'org_admin' })).key;
const viewer = (await createKey(db.pool, { orgId: 'acme', role: 'viewer' })).key;
const otherAdmin = (await createKey(db.pool, { orgId: 'globex', role: 'org_admin' })).key;

const HOUR = 3_600_000;
const now = Date.now();
const t0 = now - 10 * HOUR - 17 * 60_000;
const change = now - 4 * HOUR + 7 * 60_000;
const random = seededRandom(16);

// One model whose version changes from v1 to v2 at `change`: a call every 3 minutes, v2 slower and failing more.
const events: AiEvent[] = [];
for (let at = t0; at < now - 60_000; at += 180_000) {
  const v2 = at >= change;
  const failed = random() < (v2 ? 0.2 : 0.05);
  events.push(
    makeEvent({
      created_at: new Date(at),
      model_version: v2 ? 'v2' : 'v1',
      latency_ms: Math.round((v2 ? 400 : 200) * (0.5 + random() * 2)),
      success: !failed,
      error_code: failed ? 'timeout' : null,
      fallback_used: random() < 0.1,
      cost_usd: random() < 0.1 ? null : (random() / 100).toFixed(10),
      cost_source: 'computed',
    }),
  );
}
for (const e of events) if (e.cost_usd === null) e.cost_source = 'unpriced';
await insertEvents(db.pool, events);
// Another org's versions stay its own.
await insertEvents(db.pool, [makeEvent({ org_id: 'globex', model_version: 'secret-v9' })]);

/** What the figures over [from, to) must be, computed from the events themselves. */
function expected(from: number, to: number): Omit<VersionFigures, 'p95_latency_ms'> & { p95: number } {
  const inside = events.filter((e) => e.created_at.getTime() >= from && e.created_at.getTime() < to);
  const priced = inside.filter((e) => e.cost_usd !== null);
  const total = priced.reduce((sum, e) => sum + decimalToUnits(e.cost_usd!), 0n);
  const latencies = inside.map((e) => e.latency_ms).sort((a, b) => a - b);
  return {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    calls: inside.length,
    error_rate: inside.filter((e) => !e.success).length / inside.length,
    fallback_rate: inside.filter((e) => e.fallback_used).length / inside.length,
    cost_per_call_usd: unitsToDecimal(total / BigInt(priced.length)),
    p95: latencies[Math.ceil(0.95 * latencies.length) - 1]!,
  };
}

function expectFigures(actual: VersionFigures | null, from: number, to: number) {
  const { p95, ...rest } = expected(from, to);
  const { p95_latency_ms, ...figures } = actual!;
  expect(figures).toEqual({
    ...rest,
    error_rate: expect.closeTo(rest.error_rate, 12),
    fallback_rate: expect.closeTo(rest.fallback_rate, 12),
  });
  // The rollups' latency histogram is accurate to 2 %.
  expect(Math.abs(p95_latency_ms! - p95) / p95).toBeLessThanOrEqual(0.02);
}

const get = async (key: string, query = '') => {
  const res = await app.request(`/api/telemetry/model-versions${query}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as ModelVersionsResponse;
};
const post = (key: string, body: unknown) =>
  app.request('/api/telemetry/model-versions', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('model version registry', () => {
  it('fills first/last seen from the events and compares each change with the version before it', async () => {
    const [model] = (await get(viewer, '?model_name=gpt-4o')).models;
    const seen = (v: string) =>
      events.filter((e) => e.model_version === v).map((e) => e.created_at.getTime());
    expect(model!.versions.map((v) => [v.version, v.first_seen, v.last_seen])).toEqual(
      ['v1', 'v2'].map((v) => [
        v,
        new Date(Math.min(...seen(v))).toISOString(),
        new Date(Math.max(...seen(v))).toISOString(),
      ]),
    );
    const v2Start = Math.min(...seen('v2'));
    const v1Start = Math.min(...seen('v1'));
    expect(model!.changes.map((c) => [c.from_version, c.to_version, c.at, c.deployment_id])).toEqual([
      [null, 'v1', new Date(v1Start).toISOString(), null],
      ['v1', 'v2', new Date(v2Start).toISOString(), null],
    ]);
    // Rollback preview: v2 from its start to now (shorter than v1's stretch), v1 over as long just before.
    const change = model!.changes[1]!;
    const length = new Date(change.after.to).getTime() - v2Start;
    expect(length).toBeGreaterThan(3 * HOUR);
    expectFigures(change.after, v2Start, v2Start + length);
    expectFigures(change.before, v2Start - length, v2Start);
    expect(change.after.error_rate).toBeGreaterThan(change.before!.error_rate);
    expectFigures(model!.versions[0]!.figures, v1Start, v2Start);
    expect(model!.changes[0]!.before).toBeNull();
  });

  it('records deployments (org_admin, audited) and a deployment makes the change', async () => {
    const deployedAt = new Date(change - 30 * 60_000).toISOString();
    const res = await post(admin, {
      model_name: 'gpt-4o',
      version: 'v2',
      note: 'canary passed',
      configuration: { temperature: 0.2 },
      deployed_at: deployedAt,
    });
    expect(res.status).toBe(201);
    const deployment = (await res.json()) as { id: string; deployed_by: string };
    const [model] = (await get(admin, '?model_name=gpt-4o')).models;
    expect(model!.deployments).toEqual([
      {
        id: deployment.id,
        model_name: 'gpt-4o',
        version: 'v2',
        deployed_at: deployedAt,
        deployed_by: deployment.deployed_by,
        note: 'canary passed',
        configuration: { temperature: 0.2 },
      },
    ]);
    expect(model!.changes.at(-1)).toMatchObject({
      to_version: 'v2',
      at: deployedAt,
      deployment_id: deployment.id,
    });
    const { rows } = await db.pool.query(
      `SELECT details FROM audit_log WHERE action = 'model.deploy' AND target = $1`,
      [deployment.id],
    );
    expect(rows[0].details).toEqual({ model_name: 'gpt-4o', version: 'v2' });
    // Scoped to the org: globex sees only its own versions.
    expect((await get(otherAdmin)).models.map((m) => m.versions.map((v) => v.version))).toEqual([
      ['secret-v9'],
    ]);
  });

  it('refuses bad deployments with the field named', async () => {
    for (const [body, field] of [
      [{ model_name: 'gpt-4o' }, 'version'],
      [{ model_name: 'gpt-4o', version: 'v3', deployed_at: 'yesterday' }, 'deployed_at'],
      [{ model_name: 'gpt-4o', version: 'v3', configuration: { blob: 'x'.repeat(20_000) } }, 'configuration'],
      [{ model_name: 'gpt-4o', version: 'v3', extra: 1 }, ''],
    ] as const) {
      const res = await post(admin, body);
      expect(res.status).toBe(400);
      const problem = (await res.json()) as { errors: { field: string }[] };
      if (field) expect(problem.errors.map((e) => e.field)).toContain(field);
    }
    expect((await post(viewer, { model_name: 'gpt-4o', version: 'v3' })).status).toBe(403);
  });

  it('observatory models deploy records a deployment by the CLI', async () => {
    const env = { DATABASE_URL: db.url, OBSERVATORY_AUDIT_KEY: 'k'.repeat(32) };
    const ran = await runCli(
      [
        'models',
        'deploy',
        '--org',
        'acme',
        '--model',
        'claude-3-5',
        '--version',
        '20241022',
        '--note',
        'switch',
        '--config',
        '{"max_tokens":512}',
      ],
      env,
    );
    expect(ran).toMatchObject({ code: 0, stderr: '' });
    expect(ran.stdout).toMatch(/^Recorded deployment [0-9a-f-]{36}: claude-3-5 20241022 at /);
    const [model] = (await get(viewer, '?model_name=claude-3-5')).models;
    expect(model!.deployments).toMatchObject([
      { version: '20241022', deployed_by: 'cli', note: 'switch', configuration: { max_tokens: 512 } },
    ]);
    expect(model!.changes).toMatchObject([{ from_version: null, to_version: '20241022', before: null }]);
    const bad = await runCli(
      ['models', 'deploy', '--org', 'acme', '--model', 'x', '--version', 'v', '--at', 'soon'],
      env,
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--at is invalid');
  });
});
