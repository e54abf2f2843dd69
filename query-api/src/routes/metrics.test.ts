import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAiMetrics, Ingest } from '@observatory/exporter-postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { createApp } from '../app.ts';
import { createKey } from '../keys/keys.ts';
import { createLogger } from '../log.ts';

const TOKEN = 'metrics-token-0123456789abcdef';
const db = await createTestDatabase();
const spillDir = await mkdtemp(join(tmpdir(), 'observatory-metrics-route-'));
const metrics = createAiMetrics();
const ingest = new Ingest({ pool: db.pool, spillDir, metrics, flushIntervalMs: 10 });
await ingest.start();
const deps = { pool: db.pool, logger: createLogger('silent'), ingest, metrics };
const app = createApp({ ...deps, metricsToken: TOKEN });
const ingestKey = (await createKey(db.pool, { orgId: 'acme', role: 'ingest' })).key;

afterAll(async () => {
  await ingest.shutdown();
  await metrics.shutdown();
  await rm(spillDir, { recursive: true, force: true });
});

const scrape = (authorization?: string) =>
  app.request('/metrics', authorization ? { headers: { authorization } } : {});

describe('GET /metrics', () => {
  it('needs the metrics token when one is set: 401 with WWW-Authenticate without it or with a wrong one', async () => {
    for (const authorization of [undefined, `Bearer ${TOKEN}x`, 'Bearer wrong', `Basic ${TOKEN}`, TOKEN]) {
      const response = await scrape(authorization);
      expect(response.status, String(authorization)).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      expect(await response.text()).not.toContain('ai_inference');
    }
    const response = await scrape(`Bearer ${TOKEN}`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('observatory_exporter_queue_depth');
  });

  it('is open when no token is configured', async () => {
    expect((await createApp(deps).request('/metrics')).status).toBe(200);
  });

  it('never shows an email sent as a model name', async () => {
    const email = 'jane.doe@example.com';
    const created_at = new Date().toISOString();
    const sent = await app.request('/api/telemetry/events', {
      method: 'POST',
      headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/json' },
      body: JSON.stringify([
        { model_name: email, latency_ms: 12, success: true, created_at },
        { model_name: 'gpt-4o', latency_ms: 12, success: true, created_at },
      ]),
    });
    expect(sent.status).toBeLessThan(300);
    const text = await (await scrape(`Bearer ${TOKEN}`)).text();
    expect(text).toMatch(/ai_inference_requests_total\{org_id="acme",model_name="gpt-4o"\} 1/);
    expect(text).not.toContain(email);
    expect(text).not.toContain('example.com');
  });
});
