import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { type AiEvent, type AiMetrics, createAiMetrics, Ingest } from '@observatory/exporter-postgres';
import { type Attributes, context, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test-support/database.ts';
import { createApp } from '../src/app.ts';
import { createKey } from '../src/keys/keys.ts';

const db = await createTestDatabase();
let spillDir: string;
let metrics: AiMetrics;
let ingest: Ingest;
let app: ReturnType<typeof createApp>;
let server: Server;
let baseUrl: string;
const keys: Record<string, string> = {};
/** What the live stream would publish: model calls only. */
const committed: AiEvent[] = [];

beforeAll(async () => {
  spillDir = await mkdtemp(join(tmpdir(), 'observatory-agents-'));
  metrics = createAiMetrics({ maxOrgs: 5, maxModels: 5 });
  ingest = new Ingest({
    pool: db.pool,
    spillDir,
    metrics,
    flushIntervalMs: 10,
    onCommitted: (events) => committed.push(...events),
  });
  await ingest.start();
  app = createApp({ pool: db.pool, logger: pino({ level: 'silent' }), ingest, metrics });
  server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  await new Promise((r) => server.once('listening', r));
  baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  keys.ingest = (await createKey(db.pool, { orgId: 'acme', role: 'ingest' })).key;
  keys.viewer = (await createKey(db.pool, { orgId: 'acme', role: 'viewer' })).key;
  keys.other = (await createKey(db.pool, { orgId: 'globex', role: 'viewer' })).key;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await ingest.shutdown();
  await metrics.shutdown();
  await rm(spillDir, { recursive: true, force: true });
});

/** Runs `emit` with a real SDK whose spans reach the service over OTLP/protobuf with acme's ingest key. */
async function traced(emit: (tracer: Tracer) => void): Promise<void> {
  const tracing = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'assistant' }),
    spanProcessors: [
      new BatchSpanProcessor(
        new OTLPTraceExporter({
          url: `${baseUrl}/v1/traces`,
          headers: { authorization: `Bearer ${keys.ingest}` },
        }),
        { scheduledDelayMillis: 20 },
      ),
    ],
  });
  emit(tracing.getTracer('test'));
  await tracing.forceFlush();
  await tracing.shutdown();
  await ingest.flush();
}

type OtelSpan = ReturnType<Tracer['startSpan']>;

/** A finished span of `parent` from `start` to `end` (ms since the epoch): explicit times keep the order exact. */
function span(
  tracer: Tracer,
  name: string,
  options: { parent?: OtelSpan; kind?: SpanKind; attributes: Attributes; start: number; end: number },
  body?: (span: OtelSpan) => void,
): OtelSpan {
  const parentContext = options.parent ? trace.setSpan(context.active(), options.parent) : context.active();
  const started = tracer.startSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes, startTime: options.start },
    parentContext,
  );
  body?.(started);
  started.end(options.end);
  return started;
}

const chatAttributes = (input: number, output: number): Attributes => ({
  'gen_ai.operation.name': 'chat',
  'gen_ai.provider.name': 'openai',
  'gen_ai.request.model': 'gpt-4o',
  'gen_ai.usage.input_tokens': input,
  'gen_ai.usage.output_tokens': output,
});

type Row = Record<string, unknown>;
/** The fields of the answers these tests read; each route's full shape is checked by its OpenAPI schema. */
interface Body extends Row {
  items: Row[];
  next_cursor: string | null;
  spans: Row[];
  critical_path: string[];
  errors: { field: string }[];
}

async function get(path: string, key = keys.viewer) {
  const res = await app.request(path, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: (await res.json()) as Body };
}

describe('agent traces', () => {
  let traceId = '';
  let spanIds: Record<string, string> = {};

  beforeAll(async () => {
    const t = Date.now() - 5000;
    await traced((tracer) => {
      const http = span(tracer, 'POST /agent', {
        kind: SpanKind.SERVER,
        attributes: { 'http.route': '/agent', 'http.request.method': 'POST', 'user.id': 'u-agent' },
        start: t,
        end: t + 1000,
      });
      traceId = http.spanContext().traceId;
      const agent = span(tracer, 'invoke_agent planner', {
        parent: http,
        attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'planner' },
        start: t + 1,
        end: t + 990,
      });
      const call = (parent: OtelSpan, input: number, output: number, start: number, end: number) =>
        span(tracer, 'chat gpt-4o', {
          parent,
          kind: SpanKind.CLIENT,
          attributes: chatAttributes(input, output),
          start,
          end,
        });
      call(agent, 100, 10, t + 10, t + 200);
      const tool = span(tracer, 'execute_tool search', {
        parent: agent,
        attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'search' },
        start: t + 210,
        end: t + 500,
      });
      const failed = span(
        tracer,
        'chat gpt-4o',
        {
          parent: tool,
          kind: SpanKind.CLIENT,
          attributes: chatAttributes(50, 0),
          start: t + 220,
          end: t + 480,
        },
        (s) => {
          s.setAttribute('error.type', 'RateLimitError');
          s.setStatus({ code: SpanStatusCode.ERROR });
        },
      );
      const last = call(agent, 200, 20, t + 510, t + 980);
      spanIds = {
        agent: agent.spanContext().spanId,
        tool: tool.spanContext().spanId,
        failed: failed.spanContext().spanId,
        last: last.spanContext().spanId,
      };
    });
  });

  it('stores each model call once, with the route and user of the HTTP span above it', async () => {
    const { rows } = await db.pool.query(
      'SELECT endpoint, user_id, input_tokens FROM ai_events WHERE trace_id = $1 ORDER BY input_tokens',
      [traceId],
    );
    expect(rows).toEqual([
      { endpoint: '/agent', user_id: 'u-agent', input_tokens: 50 },
      { endpoint: '/agent', user_id: 'u-agent', input_tokens: 100 },
      { endpoint: '/agent', user_id: 'u-agent', input_tokens: 200 },
    ]);
    const overview = await get('/api/telemetry?action=overview');
    expect(overview.body.requests).toBe(3);
    // The live stream hears of the three calls, never of the agent or the tool.
    const published = committed.filter((e) => e.trace_id === traceId);
    expect(published.map((e) => e.input_tokens ?? 0).sort((a, b) => a - b)).toEqual([50, 100, 200]);
    expect(published.every((e) => 'model_name' in e && !('span_kind' in e))).toBe(true);
  });

  it('lists the trace with its root, duration and totals', async () => {
    const { status, body } = await get('/api/telemetry/traces');
    expect(status).toBe(200);
    const item = body.items.find((t) => t.trace_id === traceId)!;
    expect(item).toMatchObject({
      root_name: 'invoke_agent planner',
      service_name: 'assistant',
      spans: 5,
      model_calls: 3,
      input_tokens: 350,
      output_tokens: 30,
      has_errors: true,
    });
    // $2.50 and $10 per million input and output tokens.
    expect(Number(item.cost_usd)).toBeCloseTo((350 * 2.5 + 30 * 10) / 1e6, 12);
    expect(item.duration_ms).toBeGreaterThanOrEqual(0);
    expect((await get('/api/telemetry/traces?has_errors=false')).body.items).toEqual([]);
    expect((await get('/api/telemetry/traces?user_id=u-agent')).body.items).toHaveLength(1);
    expect((await get('/api/telemetry/traces?model_name=claude')).body.items).toEqual([]);
  });

  it('serves the tree with kinds, subtree totals and the critical path', async () => {
    const { status, body } = await get(`/api/telemetry/traces/${traceId.toUpperCase()}`);
    expect(status).toBe(200);
    const spans = body.spans;
    expect(spans.map((s) => [s.kind, s.depth])).toEqual([
      ['agent', 0],
      ['model', 1],
      ['tool', 1],
      ['model', 2],
      ['model', 1],
    ]);
    expect(spans[0]).toMatchObject({
      agent_name: 'planner',
      endpoint: '/agent',
      user_id: 'u-agent',
      children: 3,
      subtree: { spans: 5, model_calls: 3, input_tokens: 350, output_tokens: 30, errors: 1 },
    });
    expect(spans[2]).toMatchObject({
      tool_name: 'search',
      subtree: { spans: 2, model_calls: 1, input_tokens: 50, errors: 1 },
    });
    expect(body.totals).toMatchObject({ spans: 5, model_calls: 3, input_tokens: 350 });
    // The agent waited last for its final model call.
    expect(body.critical_path).toEqual([spanIds.agent, spanIds.last]);
  });

  it("answers 404 for another org's trace, and lists none of it", async () => {
    expect((await get(`/api/telemetry/traces/${traceId}`, keys.other)).status).toBe(404);
    expect((await get('/api/telemetry/traces', keys.other)).body.items).toEqual([]);
    expect((await get(`/api/telemetry/traces/${'0'.repeat(32)}`)).status).toBe(404);
  });

  it('refuses a window longer than the maximum and a forged cursor, naming the field', async () => {
    const long = await get('/api/telemetry/traces?date_from=2026-01-01&date_to=2026-03-01');
    expect(long.status).toBe(400);
    expect(long.body.errors[0]?.field).toBe('date_from');
    const forged = await get(`/api/telemetry/traces?cursor=${Buffer.from('["x"]').toString('base64url')}`);
    expect(forged.status).toBe(400);
    expect(forged.body.errors[0]?.field).toBe('cursor');
  });
});

describe('sessions', () => {
  /** One request of a conversation: an agent span stating the session, a model call under it. */
  const SESSION_CONVENTIONS: [string, Attributes][] = [
    ['gen_ai.conversation.id', { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'chat' }],
    ['session.id', { 'openinference.span.kind': 'AGENT' }],
    ['traceloop.association.properties.session_id', { 'traceloop.span.kind': 'workflow' }],
    ['ai.telemetry.metadata.sessionId', { 'ai.operationId': 'ai.generateText' }],
  ];

  it.each(SESSION_CONVENTIONS)(
    'follows a conversation of three requests by %s',
    async (key, agentAttributes) => {
      const sessionId = `conv-${key}`;
      await traced((tracer) => {
        // Three requests a second apart, as a conversation's turns would be.
        const t = Date.now() - 10_000;
        for (let i = 1; i <= 3; i++) {
          const at = t + i * 1000;
          const agent = span(tracer, 'agent', {
            attributes: { ...agentAttributes, [key]: sessionId, 'user.id': `u-${i % 2}` },
            start: at,
            end: at + 500,
          });
          span(tracer, 'chat gpt-4o', {
            parent: agent,
            kind: SpanKind.CLIENT,
            attributes: chatAttributes(10 * i, i),
            start: at + 10,
            end: at + 400,
          });
        }
      });

      const { rows } = await db.pool.query(
        `SELECT count(*)::int AS calls, sum(input_tokens)::int AS input, sum(output_tokens)::int AS output,
              sum(cost_usd)::text AS cost, count(DISTINCT trace_id)::int AS traces
         FROM ai_events WHERE org_id = 'acme' AND session_id = $1`,
        [sessionId],
      );
      expect(rows[0]).toMatchObject({ calls: 3, input: 60, output: 6, traces: 3 });

      const detail = await get(`/api/telemetry/sessions/${encodeURIComponent(sessionId)}`);
      expect(detail.status).toBe(200);
      expect(detail.body).toMatchObject({
        session_id: sessionId,
        traces: 3,
        model_calls: 3,
        input_tokens: 60,
        output_tokens: 6,
        errors: 0,
        users: 2,
        traces_truncated: false,
      });
      expect(Number(detail.body.cost_usd)).toBe(Number(rows[0].cost));
      const traces = detail.body.items;
      expect(traces.map((t) => t.input_tokens)).toEqual([10, 20, 30]);
      expect(traces.map((t) => t.started_at)).toEqual(traces.map((t) => String(t.started_at)).sort());

      const list = await get('/api/telemetry/sessions?user_id=u-1');
      const listed = list.body.items.find((s) => s.session_id === sessionId);
      expect(listed).toMatchObject({
        traces: 3,
        model_calls: 3,
        input_tokens: 60,
        output_tokens: 6,
        users: 2,
      });

      expect((await get(`/api/telemetry/sessions/${encodeURIComponent(sessionId)}`, keys.other)).status).toBe(
        404,
      );
      expect((await get('/api/telemetry/sessions', keys.other)).body.items).toEqual([]);
    },
  );

  it('pages sessions by cursor, newest activity first, each once', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const path = `/api/telemetry/sessions?limit=1${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await get(path);
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((s) => String(s.session_id)));
      cursor = page.body.next_cursor;
    } while (cursor);
    const all = (await get('/api/telemetry/sessions?limit=200')).body.items.map((s) => String(s.session_id));
    expect(seen).toEqual(all);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBeGreaterThanOrEqual(SESSION_CONVENTIONS.length);
  });
});
