import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { insertModelCalls } from '../../../test-support/model-calls.ts';
import { createApp } from '../app.ts';
import { DriftRunner } from '../drift/runner.ts';
import type { DriftItem } from '../drift/schema.ts';
import { createKey } from '../keys/keys.ts';
import { createLogger } from '../log.ts';

const db = await createTestDatabase();
const logger = createLogger('silent');
const app = createApp({ pool: db.pool, logger });
const viewer = await createKey(db.pool, { orgId: 'acme', role: 'viewer' });
const ingest = await createKey(db.pool, { orgId: 'acme', role: 'ingest' });
const globexViewer = await createKey(db.pool, { orgId: 'globex', role: 'viewer' });

const baseline = Array.from({ length: 500 }, (_, i) => 100 + i);
for (const model of ['gpt-4o', 'claude']) {
  await insertModelCalls(db.pool, {
    orgId: 'acme',
    model,
    latencies: baseline,
    fromHoursAgo: 100,
    toHoursAgo: 30,
  });
  await insertModelCalls(db.pool, {
    orgId: 'acme',
    model,
    latencies: baseline.slice(0, 200).map((v) => (model === 'claude' ? v * 3 : v)),
    fromHoursAgo: 20,
    toHoursAgo: 1,
  });
}

async function get(path: string, key = viewer.key) {
  const res = await app.request(path, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('GET /api/telemetry?action=drift', () => {
  it('says drift is not computed yet before the runner has run', async () => {
    const { status, body } = await get('/api/telemetry?action=drift&range=24h');
    expect(status).toBe(200);
    expect(body).toMatchObject({ action: 'drift', items: [] });
    expect(body.note).toMatch(/^not computed yet/);
  });

  it('returns the latest PSI per model × feature with its reading and both distributions', async () => {
    await new DriftRunner({ pool: db.pool, logger }).run();
    const { status, body } = await get('/api/telemetry?action=drift&range=24h');
    expect(status).toBe(200);
    expect(body.note).toBeUndefined();
    const items = body.items as DriftItem[];
    expect(items.map((i) => `${i.model_name}/${i.feature}`)).toEqual([
      'claude/cost_usd',
      'claude/input_tokens',
      'claude/latency_ms',
      'claude/output_tokens',
      'gpt-4o/cost_usd',
      'gpt-4o/input_tokens',
      'gpt-4o/latency_ms',
      'gpt-4o/output_tokens',
    ]);
    const latency = items.find((i) => i.model_name === 'claude' && i.feature === 'latency_ms')!;
    expect(latency).toMatchObject({ reading: 'significant', baseline_n: 500, current_n: 200 });
    expect(latency.psi).toBeGreaterThan(0.25);
    // Deciles of 100…599 are 149, 199, …, 549: ten bins, open at both ends, each a tenth of the baseline.
    expect(latency.bins).toHaveLength(10);
    expect(latency.bins[0]).toMatchObject({ from: null, to: 149, baseline_share: 0.098 });
    expect(latency.bins[1]).toMatchObject({ from: 149, to: 199, baseline_share: 0.1 });
    expect(latency.bins[9]).toMatchObject({ from: 549, to: null, baseline_share: 0.102 });
    // ×3: the current calls take 300…897 ms, so the baseline's lowest bins are empty now.
    expect(latency.bins[0]!.current_share).toBe(0);
    expect(latency.bins.reduce((sum, b) => sum + b.current_share, 0)).toBeCloseTo(1, 12);
    expect(Date.parse(latency.window_end) - Date.parse(latency.window_start)).toBe(86_400_000);
    expect(Date.parse(latency.baseline_end)).toBe(Date.parse(latency.window_start));
    expect(Date.parse(latency.baseline_end) - Date.parse(latency.baseline_start)).toBe(7 * 86_400_000);
    // Every call of every window had 100 input tokens: nothing moved.
    const steady = items.find((i) => i.model_name === 'gpt-4o' && i.feature === 'input_tokens')!;
    expect(steady).toMatchObject({ psi: 0, reading: 'stable' });
  });

  it('narrows to one model', async () => {
    const { body } = await get('/api/telemetry?action=drift&range=7d&model_name=gpt-4o');
    expect(new Set((body.items as DriftItem[]).map((i) => i.model_name))).toEqual(new Set(['gpt-4o']));
    expect(
      ((await get('/api/telemetry?action=drift&model_name=nope')).body.items as DriftItem[]).length,
    ).toBe(0);
  });

  it("shows another org nothing of this org's drift", async () => {
    const { status, body } = await get('/api/telemetry?action=drift&range=24h', globexViewer.key);
    expect(status).toBe(200);
    expect(body.items).toEqual([]);
    expect((await get('/api/telemetry?action=drift&org_id=acme', globexViewer.key)).status).toBe(403);
  });

  it('refuses bad input with a 400 naming the field, and ingest keys with 403', async () => {
    const cases: [string, string][] = [
      ['/api/telemetry?action=drift&range=2d', 'range'],
      ['/api/telemetry?action=drift&model_name=', 'model_name'],
      ['/api/telemetry?action=drift&model_name=a%00b', 'model_name'],
      ['/api/telemetry?action=drift&date_from=yesterday', 'date_from'],
      ['/api/telemetry?action=drifts', 'action'],
    ];
    for (const [path, field] of cases) {
      const { status, body } = await get(path);
      expect([path, status]).toEqual([path, 400]);
      expect((body.errors as { field: string }[]).map((e) => e.field)).toContain(field);
    }
    expect((await get('/api/telemetry?action=drift', ingest.key)).status).toBe(403);
  });
});
