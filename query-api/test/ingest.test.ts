import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { serve } from '@hono/node-server';
import {
  type AiMetrics,
  createAiMetrics,
  Ingest,
  ObservatoryAttributes as Obs,
  PostgresSpanExporter,
} from '@observatory/exporter-postgres';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPTraceExporter as OtlpHttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import fc from 'fast-check';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcStatus } from '../../exporter-postgres/src/otlp/rpc-status.ts';
import { makeEvent } from '../../exporter-postgres/test/make-event.ts';
import { createTestDatabase } from '../../test-support/database.ts';
import { otlpSpansRequest } from '../../test-support/otlp-traffic.ts';
import { proxiedPool } from '../../test-support/tcp-proxy.ts';
import { until } from '../../test-support/until.ts';
import { createApp } from '../src/app.ts';
import { createKey } from '../src/keys/keys.ts';

const db = await createTestDatabase();
const logger = pino({ level: 'silent' });
let spillDir: string;
let metrics: AiMetrics;
let ingest: Ingest;
let app: ReturnType<typeof createApp>;
let server: Server;
let baseUrl: string;
let ingestKey: string;
let viewerKey: string;

beforeAll(async () => {
  spillDir = await mkdtemp(join(tmpdir(), 'observatory-ingest-'));
  metrics = createAiMetrics({ maxOrgs: 5, maxModels: 5 });
  ingest = new Ingest({ pool: db.pool, spillDir, metrics, flushIntervalMs: 10 });
  await ingest.start();
  app = createApp({ pool: db.pool, logger, ingest, metrics });
  server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  await new Promise((r) => server.once('listening', r));
  baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  ingestKey = (await createKey(db.pool, { orgId: 'acme', role: 'ingest' })).key;
  viewerKey = (await createKey(db.pool, { orgId: 'acme', role: 'viewer' })).key;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await ingest.shutdown();
  await metrics.shutdown();
  await rm(spillDir, { recursive: true, force: true });
});

function provider(exporter: SpanExporter, service = 'checkout-api') {
  return new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 20 })],
  });
}

/** One success, one error and one fallback call, as an instrumented service would record them. */
function emitCalls(tracer: ReturnType<BasicTracerProvider['getTracer']>, tag: string): void {
  const base = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', [Obs.REQUEST_ID]: tag };
  const ok = tracer.startSpan('chat gpt-4o', { kind: SpanKind.CLIENT });
  ok.setAttributes({
    ...base,
    'gen_ai.request.model': 'gpt-4o',
    'gen_ai.usage.input_tokens': 1000,
    'gen_ai.usage.output_tokens': 100,
    [Obs.ENDPOINT]: 'analyze',
  });
  ok.end();
  const failed = tracer.startSpan('chat gpt-4o', { kind: SpanKind.CLIENT });
  failed.setAttributes({ ...base, 'gen_ai.request.model': 'gpt-4o', 'error.type': 'RateLimitError' });
  failed.setStatus({ code: SpanStatusCode.ERROR, message: 'rate limited for ops@example.com' });
  failed.end();
  const fallback = tracer.startSpan('chat gpt-4o', { kind: SpanKind.CLIENT });
  fallback.setAttributes({
    ...base,
    'gen_ai.request.model': 'gpt-4o',
    'gen_ai.response.model': 'gpt-4o-mini',
    [Obs.FALLBACK_USED]: true,
    [Obs.FALLBACK_REASON]: 'timeout',
    [Obs.FALLBACK_MODEL]: 'gpt-4o-mini',
  });
  fallback.end();
}

async function rowsFor(requestId: string) {
  const { rows } = await db.pool.query(
    'SELECT * FROM ai_events WHERE request_id = $1 ORDER BY created_at, success DESC, fallback_used',
    [requestId],
  );
  return rows;
}

async function scrape(): Promise<string> {
  return (await app.request('/metrics')).text();
}

function sample(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && wanted.every((w) => l.includes(w)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('in-process PostgresSpanExporter with the real SDK', () => {
  it('writes one row per call with the right fields, and counts them in /metrics', async () => {
    const exporter = new PostgresSpanExporter({ ingest });
    const tracing = provider(exporter);
    emitCalls(tracing.getTracer('test'), 'in-process');
    await tracing.forceFlush();
    await tracing.shutdown();

    const rows = await rowsFor('in-process');
    expect(rows).toHaveLength(3);
    const [ok, fallback, failed] = [
      rows.find((r) => r.success && !r.fallback_used),
      rows.find((r) => r.fallback_used),
      rows.find((r) => !r.success),
    ];
    expect(ok).toMatchObject({
      org_id: 'default',
      model_name: 'gpt-4o',
      endpoint: 'analyze',
      service_name: 'checkout-api',
      input_tokens: 1000,
      cost_source: 'catalog',
    });
    expect(Number(ok.cost_usd)).toBeCloseTo(0.0035, 10);
    expect(failed).toMatchObject({ error_code: 'rate_limited', error_message: 'rate limited for [email]' });
    expect(fallback).toMatchObject({
      fallback_reason: 'timeout',
      fallback_model: 'gpt-4o-mini',
      model_version: 'gpt-4o-mini',
    });

    const text = await scrape();
    expect(sample(text, 'ai_inference_requests_total', { org_id: 'default', model_name: 'gpt-4o' })).toBe(3);
    expect(
      sample(text, 'ai_inference_errors_total', {
        org_id: 'default',
        model_name: 'gpt-4o',
        error_code: 'rate_limited',
      }),
    ).toBe(1);
    expect(
      sample(text, 'ai_inference_fallbacks_total', { org_id: 'default', fallback_model: 'gpt-4o-mini' }),
    ).toBe(1);
    expect(
      sample(text, 'ai_inference_latency_seconds_count', { org_id: 'default', model_name: 'gpt-4o' }),
    ).toBe(3);
    expect(sample(text, 'ai_cost_usd_total', { org_id: 'default' })).toBeCloseTo(0.0035, 10);
    expect(text).toMatch(/^observatory_exporter_queue_depth /m);
  });

  it('loses no call and throws nothing into the instrumented code while PostgreSQL is away', async () => {
    const { proxy, pool } = await proxiedPool(db.url);
    const dir = await mkdtemp(join(tmpdir(), 'observatory-outage-'));
    const exporter = new PostgresSpanExporter({
      pool,
      spillDir: dir,
      retryBaseMs: 10,
      replayIntervalMs: 100,
    });
    const tracing = provider(exporter);
    const tracer = tracing.getTracer('outage');
    await proxy.cut();
    // Spans end while the database is unreachable: the caller's code goes on, and the exporter spills them.
    for (let i = 0; i < 20; i++) emitCalls(tracer, 'outage');
    await tracing.forceFlush();
    expect(await rowsFor('outage')).toHaveLength(0);
    await proxy.restore();
    for (let i = 0; i < 10; i++) emitCalls(tracer, 'outage');
    await tracing.forceFlush();
    await until('every span written after the outage', async () => (await rowsFor('outage')).length >= 90);
    expect(await rowsFor('outage')).toHaveLength(90);
    await tracing.shutdown();
    await pool.end();
    await proxy.stop();
    await rm(dir, { recursive: true, force: true });
  });
});

describe('POST /v1/traces while PostgreSQL is away', () => {
  it('takes spans from a key it checked before the outage into the spill file, refuses a key it never saw, and stores them after', async () => {
    const { proxy, pool } = await proxiedPool(db.url);
    const dir = await mkdtemp(join(tmpdir(), 'observatory-receiver-outage-'));
    const receiverIngest = new Ingest({ pool, spillDir: dir, retryBaseMs: 10, replayIntervalMs: 100 });
    await receiverIngest.start();
    const receiver = createApp({ pool, logger, ingest: receiverIngest });
    const unseenKey = (await createKey(db.pool, { orgId: 'acme', role: 'ingest' })).key;
    const post = (key: string, ids: string[]) => {
      const { body, type } = otlpSpansRequest(ids, { service: 'receiver-outage' });
      return receiver.request('/v1/traces', {
        method: 'POST',
        body,
        headers: { authorization: `Bearer ${key}`, 'content-type': type },
      });
    };
    const spanIds = (n: number) => Array.from({ length: n }, () => randomBytes(8).toString('hex'));
    const stored = async (ids: string[]) =>
      (
        await db.pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM ai_events WHERE org_id = 'acme' AND span_id = ANY($1)",
          [ids],
        )
      ).rows[0]!.n;
    try {
      const before = spanIds(3);
      expect((await post(ingestKey, before)).status).toBe(200);
      await proxy.cut();
      const during = spanIds(5);
      expect((await post(ingestKey, during)).status).toBe(200);
      const refused = await post(unseenKey, spanIds(1));
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBeTruthy();
      expect(await stored(during)).toBe(0);
      await proxy.restore();
      await until('the spans taken during the outage stored', async () => (await stored(during)) === 5);
      expect(await stored(before)).toBe(3);
    } finally {
      await receiverIngest.shutdown();
      await pool.end();
      await proxy.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('POST /v1/traces with the real OTLP exporters', () => {
  const url = () => `${baseUrl}/v1/traces`;
  const auth = () => ({ authorization: `Bearer ${ingestKey}` });
  it.each([
    ['protobuf', () => new OtlpProtoExporter({ url: url(), headers: auth() })],
    [
      'protobuf, gzip',
      () => new OtlpProtoExporter({ url: url(), headers: auth(), compression: 'gzip' as never }),
    ],
    ['JSON', () => new OtlpHttpJsonExporter({ url: url(), headers: auth() })],
  ])('stores what the %s exporter sends in the ingest key org', async (name, exporterFor) => {
    const tracing = provider(exporterFor());
    const tag = `otlp-${name}`;
    const tracer = tracing.getTracer('otlp');
    emitCalls(tracer, tag);
    // A span claiming another org still lands in the key's org.
    const claim = tracer.startSpan('chat gpt-4o');
    claim.setAttributes({ 'gen_ai.request.model': 'gpt-4o', [Obs.ORG_ID]: 'globex', [Obs.REQUEST_ID]: tag });
    claim.end();
    await tracing.forceFlush();
    await tracing.shutdown();
    const rows = await rowsFor(tag);
    expect(rows).toHaveLength(4);
    expect(new Set(rows.map((r) => r.org_id))).toEqual(new Set(['acme']));
  });

  it('answers 401 without a valid key and 403 for a key that may not write', async () => {
    const body = JSON.stringify({ resourceSpans: [] });
    const post = (headers: Record<string, string>) =>
      app.request('/v1/traces', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', ...headers },
      });
    expect((await post({})).status).toBe(401);
    expect((await post({ authorization: 'Bearer obs_nope' })).status).toBe(401);
    expect((await post({ authorization: `Bearer ${viewerKey}` })).status).toBe(403);
    expect((await post({ authorization: `Bearer ${ingestKey}` })).status).toBe(200);
  });

  it('refuses a malformed body (400), an unknown content type (415) and a body over 64 MiB decompressed (413)', async () => {
    const post = (body: string | Uint8Array, headers: Record<string, string>) =>
      app.request('/v1/traces', {
        method: 'POST',
        body,
        headers: { authorization: `Bearer ${ingestKey}`, ...headers },
      });
    const bad = await post('{"resourceSpans":', { 'content-type': 'application/json' });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/problem\+json/);
    expect((await post('x', { 'content-type': 'text/plain' })).status).toBe(415);
    const bomb = gzipSync(Buffer.alloc(65 * 1024 * 1024, 0x20));
    expect(
      (await post(bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' })).status,
    ).toBe(413);
  });

  it('answers a protobuf request’s errors with a protobuf google.rpc.Status, a JSON request’s with problem+json', async () => {
    const post = (body: string | Uint8Array, headers: Record<string, string>) =>
      app.request('/v1/traces', { method: 'POST', body, headers });
    const status = async (res: Response) => {
      expect(res.headers.get('content-type')).toBe('application/x-protobuf');
      return RpcStatus.toObject(RpcStatus.decode(new Uint8Array(await res.arrayBuffer())));
    };
    const protobuf = { 'content-type': 'application/x-protobuf' };
    const notOtlp = await post(new Uint8Array([0xff, 0xff, 0xff]), {
      ...protobuf,
      authorization: `Bearer ${ingestKey}`,
    });
    expect(notOtlp.status).toBe(400);
    expect(await status(notOtlp)).toMatchObject({
      code: 3,
      message: expect.stringMatching(/not a protobuf/),
    });
    const anonymous = await post(new Uint8Array(), protobuf);
    expect(anonymous.status).toBe(401);
    expect(await status(anonymous)).toMatchObject({ code: 16 });
    const viewer = await post(new Uint8Array(), { ...protobuf, authorization: `Bearer ${viewerKey}` });
    expect(viewer.status).toBe(403);
    expect(await status(viewer)).toMatchObject({ code: 7 });
    const json = await post('{', {
      'content-type': 'application/json',
      authorization: `Bearer ${ingestKey}`,
    });
    expect(json.status).toBe(400);
    expect(await json.json()).toMatchObject({ status: 400, errors: [{ field: 'body' }] });
  });

  it('answers 503 with Retry-After when neither PostgreSQL nor the spill file can take the spans', async () => {
    const deadPool = new pg.Pool({
      connectionString: 'postgres://postgres@127.0.0.1:1/none',
      connectionTimeoutMillis: 200,
    });
    deadPool.on('error', () => undefined);
    // A spill "directory" under a regular file can never be created.
    const broken = new Ingest({
      pool: deadPool,
      spillDir: '/dev/null/spill',
      maxAttempts: 1,
      retryBaseMs: 1,
    });
    const brokenApp = createApp({ pool: db.pool, logger, ingest: broken });
    const body = JSON.stringify({
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                {
                  traceId: 'a'.repeat(32),
                  spanId: 'b'.repeat(16),
                  name: 'chat',
                  startTimeUnixNano: '1',
                  endTimeUnixNano: '2',
                  attributes: [{ key: 'gen_ai.request.model', value: { stringValue: 'gpt-4o' } }],
                },
              ],
            },
          ],
        },
      ],
    });
    const res = await brokenApp.request('/v1/traces', {
      method: 'POST',
      body,
      headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/json' },
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    await broken.shutdown().catch(() => undefined);
    await deadPool.end();
  });

  it('never answers 500 to random or truncated bodies', async () => {
    const valid = JSON.stringify({
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                {
                  traceId: `${'0'.repeat(31)}1`,
                  spanId: `${'0'.repeat(15)}1`,
                  name: 'x',
                  startTimeUnixNano: '1',
                  endTimeUnixNano: '2',
                },
              ],
            },
          ],
        },
      ],
    });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }),
          fc.integer({ min: 0, max: valid.length }).map((n) => new TextEncoder().encode(valid.slice(0, n))),
        ),
        fc.constantFrom('application/json', 'application/x-protobuf'),
        async (body, type) => {
          const res = await app.request('/v1/traces', {
            method: 'POST',
            body,
            headers: { authorization: `Bearer ${ingestKey}`, 'content-type': type },
          });
          expect(res.status).toBeLessThan(500);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('POST /api/telemetry/events', () => {
  const envelope = (extra: object = {}) => ({
    model_name: 'gpt-4o-mini',
    created_at: new Date().toISOString(),
    latency_ms: 420,
    success: true,
    input_tokens: 100,
    output_tokens: 10,
    request_id: 'json-ingest',
    ...extra,
  });
  const post = (body: unknown, key = ingestKey) =>
    app.request('/api/telemetry/events', {
      method: 'POST',
      body: typeof body === 'string' ? body : JSON.stringify(body),
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    });

  it('stores a single event and the valid items of a batch, naming each refused field', async () => {
    const single = await post(envelope());
    expect(single.status).toBe(200);
    expect(await single.json()).toMatchObject({ accepted: 1, rejected: 0 });
    const batch = await post([envelope(), envelope({ latency_ms: -1 }), envelope({ org_id: 'globex' })]);
    expect(await batch.json()).toMatchObject({
      accepted: 1,
      rejected: 2,
      errors: [
        { index: 1, field: 'latency_ms' },
        { index: 2, field: 'org_id' },
      ],
    });
    const rows = await rowsFor('json-ingest');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ org_id: 'acme', cost_source: 'catalog' });
  });

  it('answers 400 naming the field when nothing is valid, and never 500 on random input', async () => {
    const res = await post({ model_name: 'x', created_at: 'yesterday', latency_ms: 1, success: true });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errors: unknown }).errors).toEqual([
      { field: 'created_at', message: expect.any(String) },
    ]);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
        ),
        async (body) => {
          expect((await post(body)).status).toBeLessThan(500);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('metric cardinality', () => {
  it('keeps every series count under its cap whatever flood of orgs and models arrives', async () => {
    const capped = createAiMetrics({ maxOrgs: 10, maxModels: 20 });
    capped.recordEvents(
      Array.from({ length: 2000 }, (_, i) =>
        makeEvent({
          org_id: `org-${i % 500}`,
          model_name: `model-${i}`,
          success: i % 3 !== 0,
          error_code: i % 3 === 0 ? 'surprising-new-code' : null,
          fallback_used: i % 2 === 0,
          fallback_model: `fb-${i}`,
          user_id: `user-${i}`,
          request_id: `req-${i}`,
          trace_id: i.toString(16).padStart(32, '0'),
        }),
      ),
    );
    const text = await capped.render();
    const series = (name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`));
    const labelValues = (name: string, label: string) =>
      new Set(series(name).map((l) => new RegExp(`${label}="([^"]*)"`).exec(l)?.[1]));
    // Exact counts, so an empty exposition fails too: the first 10 orgs keep their label, the other 490 share `other`.
    expect(labelValues('ai_inference_requests_total', 'org_id').size).toBe(11);
    // Model budgets are per org: at most 20 models and `other` for each org label.
    const perOrg = (name: string, label: string) => {
      const values = new Map<string, Set<string>>();
      for (const line of series(name)) {
        const org = /org_id="([^"]*)"/.exec(line)![1]!;
        values.set(org, (values.get(org) ?? new Set()).add(new RegExp(`${label}="([^"]*)"`).exec(line)![1]!));
      }
      return Math.max(...[...values.values()].map((v) => v.size));
    };
    expect(perOrg('ai_inference_requests_total', 'model_name')).toBe(21);
    expect(perOrg('ai_inference_fallbacks_total', 'fallback_model')).toBe(21);
    expect(labelValues('ai_inference_errors_total', 'error_code')).toEqual(new Set(['other']));
    // The 10 named orgs sent 4 models each; `other` holds its 20 models and `other`.
    expect(series('ai_inference_requests_total').length).toBe(10 * 4 + 21);
    expect(text).not.toMatch(/user_id|request_id|trace_id/);
    await capped.shutdown();
  });
});
