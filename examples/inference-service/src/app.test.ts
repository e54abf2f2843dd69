import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import {
  fromReadableSpan,
  loadPriceTable,
  mapSpan,
  ObservatoryAttributes as O,
  StandardAttributes as S,
} from '@observatory/exporter-postgres';
import { startTelemetry, type Telemetry } from '@observatory/instrumentation';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp, MODELS } from './app.ts';
import { FakeModel } from './fake-model.ts';

const sink = new InMemorySpanExporter();
let telemetry: Telemetry;
let server: Server;
let base: string;

beforeAll(async () => {
  telemetry = startTelemetry({ otlp: false, spanProcessors: [new SimpleSpanProcessor(sink)] });
  const app = createApp({
    model: new FakeModel({ latencyMs: 1, errorRate: 0, fallbackRate: 0 }),
    primaryTimeoutMs: 50,
  });
  server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }) as Server;
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.close();
  await telemetry.shutdown();
});
beforeEach(() => sink.reset());

// fetch (undici) is not traced by the http instrumentation, so the headers given here arrive as sent.
function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

async function finishedSpans(): Promise<ReadableSpan[]> {
  await telemetry.forceFlush();
  return sink.getFinishedSpans();
}

const isModelCall = (s: ReadableSpan) => s.attributes[S.OPERATION_NAME] !== undefined;

describe('example inference service', () => {
  it('carries the incoming X-Request-ID and traceparent into every model-call span of the request', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parentSpanId = '00f067aa0ba902b7';
    const res = await post(
      '/analyze',
      { text: 'The delivery was quick and the support friendly.' },
      {
        traceparent: `00-${traceId}-${parentSpanId}-01`,
        'x-request-id': 'req-from-gateway-1',
        'x-org-id': 'acme',
        'x-user-id': 'user-9',
      },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('req-from-gateway-1');
    await res.json();

    const spans = await finishedSpans();
    const serverSpan = spans.find((s) => s.kind === SpanKind.SERVER)!;
    expect(serverSpan.spanContext().traceId).toBe(traceId);
    expect(serverSpan.parentSpanContext?.spanId).toBe(parentSpanId);

    const calls = spans.filter(isModelCall);
    expect(calls.map((s) => s.name).sort()).toEqual([
      `chat ${MODELS.primary}`,
      `embeddings ${MODELS.embedding}`,
    ]);
    for (const call of calls) {
      expect(call.spanContext().traceId).toBe(traceId);
      expect(call.parentSpanContext?.spanId).toBe(serverSpan.spanContext().spanId);
      expect(call.attributes).toMatchObject({
        [O.REQUEST_ID]: 'req-from-gateway-1',
        [O.ORG_ID]: 'acme',
        [S.USER_ID]: 'user-9',
        [O.ENDPOINT]: '/analyze',
      });
    }
  });

  it('generates a request id when none (or an unusable one) comes in, and keeps concurrent requests apart', async () => {
    const responses = await Promise.all([
      post('/infer', { prompt: 'a' }, { 'x-user-id': 'alice' }),
      post('/infer', { prompt: 'b' }, { 'x-user-id': 'bob', 'x-request-id': 'has spaces, and <html>' }),
    ]);
    const ids = responses.map((r) => r.headers.get('x-request-id')!);
    expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids[1]).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids[0]).not.toBe(ids[1]);

    const calls = (await finishedSpans()).filter(isModelCall);
    expect(calls).toHaveLength(2);
    const userByRequest = Object.fromEntries(
      calls.map((s) => [s.attributes[O.REQUEST_ID], s.attributes[S.USER_ID]]),
    );
    expect(userByRequest).toEqual({ [ids[0]!]: 'alice', [ids[1]!]: 'bob' });
  });

  it('answers from the fallback model and records one call with the fallback', async () => {
    const res = await post('/infer', { prompt: 'hello', simulate: 'rate_limited' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe(`${MODELS.fallback}-2025-01-01`);

    const [call, ...more] = (await finishedSpans()).filter(isModelCall);
    expect(more).toHaveLength(0);
    expect(call!.status.code).toBe(SpanStatusCode.UNSET);
    expect(call!.attributes).toMatchObject({
      [S.REQUEST_MODEL]: MODELS.primary,
      [S.RESPONSE_MODEL]: `${MODELS.fallback}-2025-01-01`,
      [O.FALLBACK_USED]: true,
      [O.FALLBACK_REASON]: 'rate_limited',
      [O.FALLBACK_MODEL]: MODELS.fallback,
      [S.INPUT_TOKENS]: 2,
      [S.OUTPUT_TOKENS]: 12,
    });
  });

  it('falls back with reason timeout when the primary hangs', async () => {
    const res = await post('/infer', { prompt: 'hello', simulate: 'timeout' });
    expect(res.status).toBe(200);
    const [call] = (await finishedSpans()).filter(isModelCall);
    expect(call!.attributes[O.FALLBACK_REASON]).toBe('timeout');
  });

  it('reports a failed model call as 502 and an ERROR span', async () => {
    const res = await post('/infer', { prompt: 'hello', simulate: 'error' });
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toBe('application/problem+json');

    const [call] = (await finishedSpans()).filter(isModelCall);
    expect(call!.status.code).toBe(SpanStatusCode.ERROR);
    expect(call!.attributes).toMatchObject({ [S.ERROR_TYPE]: 'server_error', [O.FALLBACK_USED]: true });
  });

  /** The events of a server-sent event stream, in order. */
  async function sseEvents(res: Response): Promise<{ event: string; data: string }[]> {
    return (await res.text())
      .split('\n\n')
      .filter((block) => block.trim() !== '')
      .map((block) => ({
        event: /^event: (.*)$/m.exec(block)?.[1] ?? 'message',
        data: /^data: (.*)$/m.exec(block)?.[1] ?? '',
      }));
  }

  /** The event Observatory stores for a model-call span, as the pipeline maps it. */
  function eventOf(span: ReadableSpan) {
    const options = {
      defaultOrgId: 'x',
      prices: loadPriceTable(),
      receivedAt: new Date(),
      pseudonymKey: 'k',
    };
    return mapSpan(fromReadableSpan(span), options)!;
  }

  it('streams an answer as server-sent events and records its time to first token', async () => {
    const res = await post('/infer/stream', { prompt: 'hello' }, { 'x-org-id': 'acme' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = await sseEvents(res);
    expect(events.map((e) => e.event)).toEqual([...Array<string>(12).fill('chunk'), 'done']);
    expect(events[0]!.data).toBe('positive');
    expect(JSON.parse(events.at(-1)!.data)).toEqual({ model: `${MODELS.primary}-2025-01-01` });

    const [call, ...more] = (await finishedSpans()).filter(isModelCall);
    expect(more).toHaveLength(0);
    expect(call!.attributes).toMatchObject({ [O.ENDPOINT]: '/infer/stream', [O.ORG_ID]: 'acme' });
    const event = eventOf(call!);
    expect(event.ttft_ms).toBeGreaterThan(0);
    // Eleven more chunks, at least 1 ms apart, came after the first.
    expect(event.ttft_ms!).toBeLessThan(event.latency_ms);
    expect(event.output_tokens).toBe(12);
  });

  it('streams from the fallback when the primary gives no first chunk in time', async () => {
    const res = await post('/infer/stream', { prompt: 'hello', simulate: 'timeout' });
    const events = await sseEvents(res);
    expect(JSON.parse(events.at(-1)!.data)).toEqual({ model: `${MODELS.fallback}-2025-01-01` });
    const [call] = (await finishedSpans()).filter(isModelCall);
    expect(call!.attributes).toMatchObject({ [O.FALLBACK_USED]: true, [O.FALLBACK_REASON]: 'timeout' });
    // The caller waited through the primary's timeout (50 ms here) for the fallback's first chunk.
    expect(eventOf(call!).ttft_ms).toBeGreaterThanOrEqual(50);
  });

  it('ends the stream with an error event when no model answers', async () => {
    const res = await post('/infer/stream', { prompt: 'hello', simulate: 'error' });
    expect(res.status).toBe(200);
    const events = await sseEvents(res);
    expect(events.map((e) => e.event)).toEqual(['error']);
    expect(JSON.parse(events[0]!.data)).toMatchObject({ title: 'Model call failed' });
    const [call] = (await finishedSpans()).filter(isModelCall);
    expect(call!.status.code).toBe(SpanStatusCode.ERROR);
    expect(eventOf(call!).ttft_ms).toBeNull();
  });

  it('rejects an invalid body with a problem naming the field, without calling a model', async () => {
    const res = await post('/analyze', { text: 42 });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { errors: { field: string }[] };
    expect(body.errors.map((e) => e.field)).toEqual(['text']);
    expect((await finishedSpans()).filter(isModelCall)).toHaveLength(0);
  });
});

describe('POST /agent', () => {
  it('runs a planner agent over a tool and two model calls, one tree in the session', async () => {
    const res = await post(
      '/agent',
      { task: 'Book a table for two' },
      { 'x-session-id': 'conv-9', 'x-user-id': 'alice' },
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ steps: ['plan', 'search', 'answer'] });
    const spans = await finishedSpans();
    const agent = spans.find((s) => s.name === 'invoke_agent planner')!;
    const tool = spans.find((s) => s.name === 'execute_tool search')!;
    const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
    expect(parentOf(tool)).toBe(agent.spanContext().spanId);
    const options = {
      defaultOrgId: 'd',
      prices: loadPriceTable(),
      receivedAt: new Date(),
      pseudonymKey: 'k',
    };
    const calls = spans.map(fromReadableSpan).flatMap((s) => mapSpan(s, options) ?? []);
    // The plan and the answer under the agent, the embedding under the tool: three calls, each counted once.
    expect(calls.map((e) => [e.model_name, e.parent_span_id]).sort()).toEqual(
      [
        [MODELS.embedding, tool.spanContext().spanId],
        [MODELS.fallback, agent.spanContext().spanId],
        [MODELS.primary, agent.spanContext().spanId],
      ].sort(),
    );
    expect(calls.every((e) => e.session_id === 'conv-9' && e.user_id === 'alice')).toBe(true);
    expect(agent.attributes).toMatchObject({ [S.CONVERSATION_ID]: 'conv-9', [O.ORG_ID]: 'demo' });
  });
});
