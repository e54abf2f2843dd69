import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAiMetrics, Ingest } from '@observatory/exporter-postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test-support/database.ts';
import { until } from '../../../test-support/until.ts';
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

  it('holds the GenAI histograms and token counters with the right counts, sums and buckets after OTLP ingest', async () => {
    const key = (await createKey(db.pool, { orgId: 'genai-org', role: 'ingest' })).key;
    const end = BigInt(Date.now()) * 1_000_000n;
    const span = (i: number, durationMs: number, attributes: Record<string, string | number>) => ({
      traceId: `${i}`.padStart(32, 'a'),
      spanId: `${i}`.padStart(16, 'b'),
      name: 'chat claude-3-5-haiku',
      kind: 3,
      startTimeUnixNano: String(end - BigInt(durationMs) * 1_000_000n),
      endTimeUnixNano: String(end),
      attributes: Object.entries({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'anthropic',
        'gen_ai.request.model': 'claude-3-5-haiku',
        'user.id': 'jane.doe@example.com',
        ...attributes,
      }).map(([k, v]) => ({
        key: k,
        value: typeof v === 'number' ? { intValue: String(v) } : { stringValue: v },
      })),
      status: { code: attributes['error.type'] ? 2 : 0 },
    });
    const spans = [
      span(1, 300, { 'gen_ai.usage.input_tokens': 1000, 'gen_ai.usage.output_tokens': 200 }),
      span(2, 1500, {
        'gen_ai.usage.input_tokens': 50,
        'gen_ai.usage.output_tokens': 3,
        'gen_ai.usage.cache_read.input_tokens': 40,
      }),
      span(3, 5000, { 'error.type': 'RateLimitError' }),
    ];
    const sent = await app.request('/v1/traces', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] }),
    });
    expect(sent.status).toBe(200);

    const series = (labels: string) =>
      `{org_id="genai-org",gen_ai_operation_name="chat",gen_ai_provider_name="anthropic",gen_ai_request_model="claude-3-5-haiku"${labels}}`;
    const text = await until('the three calls on /metrics', async () => {
      const body = await (await scrape(`Bearer ${TOKEN}`)).text();
      return (
        body.includes(
          `gen_ai_client_operation_duration_seconds_count${series(',error_type="rate_limited"')} 1`,
        ) && body
      );
    });
    const value = (sample: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
      expect(line, sample).toBeDefined();
      return Number(line!.split(' ').at(-1));
    };
    const input = series(',gen_ai_token_type="input"');
    const output = series(',gen_ai_token_type="output"');
    // The failed call reported no tokens, so only two calls count tokens.
    expect(value(`gen_ai_client_token_usage_count${input}`)).toBe(2);
    expect(value(`gen_ai_client_token_usage_sum${input}`)).toBe(1050);
    expect(value(`gen_ai_client_token_usage_bucket${series(',gen_ai_token_type="input",le="64"')}`)).toBe(1);
    expect(value(`gen_ai_client_token_usage_bucket${series(',gen_ai_token_type="input",le="1024"')}`)).toBe(
      2,
    );
    expect(value(`gen_ai_client_token_usage_sum${output}`)).toBe(203);
    expect(value(`gen_ai_client_token_usage_bucket${series(',gen_ai_token_type="output",le="4"')}`)).toBe(1);
    expect(value(`gen_ai_client_operation_duration_seconds_count${series('')}`)).toBe(2);
    expect(value(`gen_ai_client_operation_duration_seconds_sum${series('')}`)).toBeCloseTo(1.8, 6);
    expect(value(`gen_ai_client_operation_duration_seconds_bucket${series(',le="0.32"')}`)).toBe(1);
    expect(value(`gen_ai_client_operation_duration_seconds_bucket${series(',le="1.28"')}`)).toBe(1);
    expect(value(`gen_ai_client_operation_duration_seconds_bucket${series(',le="2.56"')}`)).toBe(2);
    const tokens = (type: string) =>
      value(`ai_tokens_total{org_id="genai-org",model_name="claude-3-5-haiku",token_type="${type}"}`);
    expect([tokens('input'), tokens('output'), tokens('cached')]).toEqual([1050, 203, 40]);
    expect(text).not.toContain('example.com');
  });
});
