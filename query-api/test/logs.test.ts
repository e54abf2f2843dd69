import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { serve } from '@hono/node-server';
import { Ingest, LogIngest } from '@observatory/exporter-postgres';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as OtlpLogHttpJsonExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as OtlpLogProtoExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test-support/database.ts';
import { connectSse } from '../../test-support/sse-client.ts';
import { until } from '../../test-support/until.ts';
import { createApp } from '../src/app.ts';
import { createKey } from '../src/keys/keys.ts';
import { StreamHub } from '../src/stream/hub.ts';
import { publishLogs } from '../src/stream/publish.ts';

const db = await createTestDatabase();
const logger = pino({ level: 'silent' });
let spillDir: string;
let ingest: Ingest;
let logs: LogIngest;
let hub: StreamHub;
let app: ReturnType<typeof createApp>;
let server: Server;
let baseUrl: string;
let ingestKey: string;
let viewerKey: string;
let otherViewerKey: string;

beforeAll(async () => {
  spillDir = await mkdtemp(join(tmpdir(), 'observatory-logs-'));
  ingest = new Ingest({ pool: db.pool, spillDir: join(spillDir, 'events'), flushIntervalMs: 10 });
  logs = new LogIngest({
    pool: db.pool,
    spillDir: join(spillDir, 'logs'),
    flushIntervalMs: 10,
    onCommitted: (rows) => void publishLogs(db.pool, rows),
  });
  await ingest.start();
  await logs.start();
  hub = new StreamHub(db.url, db.pool);
  await hub.start();
  app = createApp({ pool: db.pool, logger, ingest, logs, hub });
  server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  await new Promise((r) => server.once('listening', r));
  baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  ingestKey = (await createKey(db.pool, { orgId: 'acme', role: 'ingest' })).key;
  viewerKey = (await createKey(db.pool, { orgId: 'acme', role: 'viewer' })).key;
  otherViewerKey = (await createKey(db.pool, { orgId: 'globex', role: 'viewer' })).key;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await ingest.shutdown();
  await logs.shutdown();
  await hub.stop();
  await rm(spillDir, { recursive: true, force: true });
});

const auth = () => ({ authorization: `Bearer ${ingestKey}` });

async function getJson(path: string, key = viewerKey) {
  const res = await app.request(path, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

type LogLine = {
  body: string;
  trace_id: string;
  span_id: string;
  attributes: Record<string, unknown>;
} & Record<string, unknown>;

async function logsOf(query: string, key = viewerKey): Promise<LogLine[]> {
  const { status, body } = await getJson(`/api/telemetry/logs?${query}`, key);
  expect(status, JSON.stringify(body)).toBe(200);
  return body.items as LogLine[];
}

/**
 * An instrumented service: a model call (a span sent to /v1/traces) during which the service logs two lines through
 * the OTel logs SDK (sent to /v1/logs by `logExporter`), tied to the span by the context they are emitted in.
 */
async function serviceCall(logExporter: LogRecordExporter, tag: string) {
  const resource = resourceFromAttributes({ 'service.name': 'checkout-api' });
  const tracing = new BasicTracerProvider({
    resource,
    spanProcessors: [
      new BatchSpanProcessor(new OtlpProtoExporter({ url: `${baseUrl}/v1/traces`, headers: auth() }), {
        scheduledDelayMillis: 20,
      }),
    ],
  });
  const logging = new LoggerProvider({
    resource,
    processors: [new BatchLogRecordProcessor({ exporter: logExporter, scheduledDelayMillis: 20 })],
  });
  const span = tracing.getTracer('svc').startSpan('chat gpt-4o', { kind: SpanKind.CLIENT });
  span.setAttributes({ 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o' });
  const inSpan = trace.setSpan(context.active(), span);
  const log = logging.getLogger('checkout.model-client');
  log.emit({
    context: inSpan,
    severityNumber: SeverityNumber.INFO,
    severityText: 'INFO',
    body: `calling the model for ${tag}`,
    attributes: { tag },
  });
  log.emit({
    context: inSpan,
    severityNumber: SeverityNumber.ERROR,
    severityText: 'ERROR',
    body: `retrying ${tag} for alice@example.com with key sk-abcdefghijklmnop`,
    attributes: {
      tag,
      'user.email': 'bob@example.com',
      password: 'hunter2',
      nested: { phone: '+44 20 7946 0958' },
    },
  });
  span.end();
  await logging.forceFlush();
  await tracing.forceFlush();
  await logging.shutdown();
  await tracing.shutdown();
  return span.spanContext();
}

describe('POST /v1/logs with the real OTel logs SDK', () => {
  it.each([
    ['protobuf', () => new OtlpLogProtoExporter({ url: `${baseUrl}/v1/logs`, headers: auth() })],
    [
      'protobuf, gzip',
      () =>
        new OtlpLogProtoExporter({
          url: `${baseUrl}/v1/logs`,
          headers: auth(),
          compression: 'gzip' as never,
        }),
    ],
    ['JSON', () => new OtlpLogHttpJsonExporter({ url: `${baseUrl}/v1/logs`, headers: auth() })],
  ])(
    'stores what the %s exporter sends, tied to the span of the event it was logged in',
    async (name, exporter) => {
      const tag = `logs-${name}`;
      const { traceId, spanId } = await serviceCall(exporter(), tag);

      // The event of the model call, as the console's inspector finds it, and the log lines under it.
      const events = (await getJson(`/api/telemetry/events?trace_id=${traceId}`)).body.items as {
        span_id: string;
      }[];
      expect(events).toHaveLength(1);
      const lines = await logsOf(`trace_id=${traceId}&span_id=${events[0]!.span_id}`);
      expect(lines).toHaveLength(2);
      expect(lines.map((l) => l.span_id)).toEqual([spanId, spanId]);
      const [error, info] = lines.sort((a, b) => Number(b.severity_number) - Number(a.severity_number));
      expect(info).toMatchObject({
        org_id: 'acme',
        severity_number: 9,
        severity_text: 'INFO',
        service_name: 'checkout-api',
        scope_name: 'checkout.model-client',
        body: `calling the model for ${tag}`,
        attributes: { tag },
      });
      // Personal data and secrets never reach the row, in the body or in attributes (keys, values, nested values).
      expect(error!.body).toBe(`retrying ${tag} for [email] with key [secret]`);
      expect(error!.attributes).toEqual({
        tag,
        'user.email': '[email]',
        password: '[secret]',
        nested: '{"phone":"[phone]"}',
      });
      const stored = JSON.stringify((await db.pool.query('SELECT * FROM structured_logs')).rows);
      for (const secret of ['alice@', 'bob@', 'hunter2', 'sk-abc', '7946'])
        expect(stored).not.toContain(secret);

      // Filters: minimum severity by name, text search, service.
      expect(await logsOf(`trace_id=${traceId}&min_severity=error`)).toHaveLength(1);
      expect(await logsOf(`trace_id=${traceId}&q=${encodeURIComponent('retrying')}`)).toHaveLength(1);
      expect(await logsOf(`trace_id=${traceId}&service=other-api`)).toHaveLength(0);
      // Another org sees nothing of it.
      expect(await logsOf(`trace_id=${traceId}`, otherViewerKey)).toHaveLength(0);
    },
  );
});

function logsRequest(records: Record<string, unknown>[], service = 'json-api') {
  return {
    resourceLogs: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeLogs: [{ scope: { name: 'raw' }, logRecords: records }],
      },
    ],
  };
}

const post = (body: string | Uint8Array, headers: Record<string, string> = {}) =>
  app.request('/v1/logs', {
    method: 'POST',
    body,
    headers: { ...auth(), 'content-type': 'application/json', ...headers },
  });

describe('POST /v1/logs answers', () => {
  it('stores a re-delivered request once', async () => {
    const body = JSON.stringify(
      logsRequest([
        { timeUnixNano: '1700000000000000001', severityNumber: 13, body: { stringValue: 'redelivered one' } },
        { timeUnixNano: '1700000000000000002', severityNumber: 13, body: { stringValue: 'redelivered two' } },
      ]),
    );
    for (let i = 0; i < 3; i++) expect((await post(body)).status).toBe(200);
    expect((await post(gzipSync(body), { 'content-encoding': 'gzip' })).status).toBe(200);
    const { rows } = await db.pool.query(`SELECT body FROM structured_logs WHERE body LIKE 'redelivered%'`);
    expect(rows.map((r) => r.body).sort()).toEqual(['redelivered one', 'redelivered two']);
  });

  it('refuses bad records one by one through partialSuccess and stores the rest', async () => {
    const res = await post(
      JSON.stringify(
        logsRequest([
          { body: { stringValue: 'kept line' }, traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8) },
          { body: { stringValue: 'bad trace id' }, traceId: 'xyz' },
          { body: { stringValue: 'bad severity' }, severityNumber: 99 },
        ]),
      ),
    );
    expect(res.status).toBe(200);
    const answer = (await res.json()) as {
      partialSuccess: { rejectedLogRecords: string; errorMessage: string };
    };
    expect(answer.partialSuccess.rejectedLogRecords).toBe('2');
    expect(answer.partialSuccess.errorMessage).toMatch(/traceId/);
    expect(answer.partialSuccess.errorMessage).toMatch(/severityNumber/);
    const lines = await logsOf(`trace_id=${'ab'.repeat(16)}`);
    expect(lines.map((l) => l.body)).toEqual(['kept line']);
  });

  it('answers 401 without a key, 403 for a viewer, 415 for another type and 400 for a body that is not OTLP', async () => {
    const body = JSON.stringify({ resourceLogs: [] });
    expect((await post(body, { authorization: '' })).status).toBe(401);
    expect((await post(body, { authorization: `Bearer ${viewerKey}` })).status).toBe(403);
    expect((await post(body, { 'content-type': 'text/plain' })).status).toBe(415);
    const bad = await post('{"resourceLogs":');
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/problem\+json/);
    const protobuf = await post(new Uint8Array([0x0a, 0x05, 0x01]), {
      'content-type': 'application/x-protobuf',
    });
    expect(protobuf.status).toBe(400);
  });

  it('never answers 500 to random, truncated or mutated bodies', async () => {
    let valid: Uint8Array | undefined;
    // The real exporter's bytes, taken from the wire by a one-off route-free server.
    const grab = serve({
      fetch: async (req) => {
        valid = new Uint8Array(await req.arrayBuffer());
        return new Response(new Uint8Array(), { headers: { 'content-type': 'application/x-protobuf' } });
      },
      port: 0,
      hostname: '127.0.0.1',
    }) as Server;
    await new Promise((r) => grab.once('listening', r));
    const grabUrl = `http://127.0.0.1:${(grab.address() as { port: number }).port}/v1/logs`;
    await serviceCall(new OtlpLogProtoExporter({ url: grabUrl }), 'fuzz');
    await new Promise((r) => grab.close(r));
    expect(valid?.length).toBeGreaterThan(50);

    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }).map((b) => ['protobuf', b] as const),
          fc
            .tuple(fc.integer({ min: 0, max: valid!.length }), fc.nat(), fc.integer({ min: 0, max: 255 }))
            .map(([cut, at, byte]) => {
              const b = Buffer.from(valid!.subarray(0, cut));
              if (b.length > 0) b[at % b.length] = byte;
              return ['protobuf', b] as const;
            }),
          fc.string().map((s) => ['json', s] as const),
          fc.jsonValue().map((v) => ['json', JSON.stringify({ resourceLogs: [v] })] as const),
          fc
            .jsonValue()
            .map(
              (v) =>
                ['json', JSON.stringify(logsRequest([{ body: v, attributes: [v], traceId: v }]))] as const,
            ),
        ),
        async ([format, body]) => {
          const res = await post(body, {
            'content-type': format === 'protobuf' ? 'application/x-protobuf' : 'application/json',
          });
          expect(res.status, await res.text()).toBeLessThan(500);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('GET /api/telemetry/logs', () => {
  it('pages newest first by cursor, and refuses bad filters naming the field', async () => {
    const base = Date.UTC(2026, 0, 10, 12);
    const records = Array.from({ length: 7 }, (_, i) => ({
      timeUnixNano: `${BigInt(base + i * 1000) * 1_000_000n}`,
      severityNumber: 9,
      body: { stringValue: `paged line ${i}` },
    }));
    expect((await post(JSON.stringify(logsRequest(records, 'pager')))).status).toBe(200);
    const seen: string[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page = await getJson(
        `/api/telemetry/logs?service=pager&limit=3${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...(page.body.items as LogLine[]).map((l) => l.body));
      cursor = page.body.next_cursor as string | null;
    }
    expect(seen).toEqual(records.map((_, i) => `paged line ${6 - i}`));
    const window = await logsOf(
      `service=pager&date_from=${new Date(base + 2000).toISOString()}&date_to=${new Date(base + 4000).toISOString()}`,
    );
    expect(window.map((l) => l.body)).toEqual(['paged line 4', 'paged line 3', 'paged line 2']);

    // Text search: words in any case and inside longer ones, phrases as written, exclusions; LIKE's wildcards are
    // taken literally.
    const search = async (q: string) =>
      (await logsOf(`service=pager&q=${encodeURIComponent(q)}`)).map((l) => l.body);
    expect(await search('PAGED "line 4"')).toEqual(['paged line 4']);
    expect(await search('aged -line')).toEqual([]);
    expect(await search('line -"line 1" -"line 2" -"line 3" -"line 4" -"line 5"')).toEqual([
      'paged line 6',
      'paged line 0',
    ]);
    // A page filled among the newest rows, and one that needs the index for the rest, read the same.
    expect((await logsOf('service=pager&q=line&limit=2')).map((l) => l.body)).toEqual([
      'paged line 6',
      'paged line 5',
    ]);
    expect(await search('line_')).toEqual([]);
    expect(await search('%')).toEqual([]);

    for (const [query, field] of [
      ['min_severity=loud', 'min_severity'],
      ['trace_id=nothex', 'trace_id'],
      ['cursor=abc', 'cursor'],
      ['date_from=2026-02-01&date_to=2026-01-01', 'date_from'],
    ]) {
      const { status, body } = await getJson(`/api/telemetry/logs?${query}`);
      expect(status, query).toBe(400);
      expect(JSON.stringify(body.errors), query).toContain(field);
    }
  });
});

describe('log lines on the live stream', () => {
  it('sends new lines as `log` messages to streams that asked for them, with their filters, in their org only', async () => {
    const stream = (query: string, key = viewerKey) =>
      connectSse(`${baseUrl}/api/telemetry/stream?${query}`, { authorization: `Bearer ${key}` });
    const tail = stream('logs=true&min_severity=warn&q=payment');
    const everything = stream('logs=true');
    const noLogs = stream('');
    const otherOrg = stream('logs=true', otherViewerKey);
    const clients = [tail, everything, noLogs, otherOrg];
    await until('every stream connected', () => clients.every((c) => c.data('connected').length === 1));

    const lines = [
      { severityNumber: 13, body: { stringValue: 'payment declined for order 7' } },
      { severityNumber: 9, body: { stringValue: 'payment accepted for order 8' } },
      { severityNumber: 17, body: { stringValue: 'inventory service unreachable' } },
    ];
    expect((await post(JSON.stringify(logsRequest(lines, 'live-api')))).status).toBe(200);
    await until('three live lines', () => everything.data('log').length >= 3);
    const bodies = (c: typeof tail) => c.data<{ body: string }>('log').map((l) => l.body);
    expect(bodies(everything).sort()).toEqual(lines.map((l) => l.body.stringValue).sort());
    expect(bodies(tail)).toEqual(['payment declined for order 7']);
    expect(everything.data<{ service_name: string }>('log')[0]!.service_name).toBe('live-api');
    // Streams that did not ask, or belong to another org, got none: the hub hands a notification's lines to every
    // subscriber at once, so by now they would have had theirs.
    expect(noLogs.data('log')).toEqual([]);
    expect(otherOrg.data('log')).toEqual([]);
    await Promise.all(clients.map((c) => c.close()));
  });
});
