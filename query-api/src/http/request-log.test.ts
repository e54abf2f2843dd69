import { Writable } from 'node:stream';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { Hono } from 'hono';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { requestLog } from './request-log.ts';

/** An app whose request log lines are kept, with `tracer` (the API's no-op one unless given). */
function appWithLog(tracer?: Parameters<typeof requestLog>[1]) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const app = new Hono();
  app.use(requestLog(pino({ level: 'info' }, sink), tracer));
  app.get('/things/:id', (c) => c.text('ok'));
  return { app, lines };
}

const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${CALLER_TRACE}-${CALLER_SPAN}-01`;
const TRACERESPONSE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

describe('requestLog', () => {
  it("joins the caller's trace: the log line and traceresponse carry its trace id and a span of this request", async () => {
    const { app, lines } = appWithLog();
    const res = await app.request('/things/42', { headers: { traceparent: TRACEPARENT } });
    const [, traceId, spanId, flags] = res.headers.get('traceresponse')!.match(TRACERESPONSE)!;
    expect(traceId).toBe(CALLER_TRACE);
    expect(spanId).not.toBe(CALLER_SPAN);
    expect(flags).toBe('01');
    expect(lines.at(-1)).toMatchObject({
      msg: 'request',
      trace_id: CALLER_TRACE,
      span_id: spanId,
      status: 200,
    });
  });

  it('starts a new trace for a request without (or with a malformed) traceparent', async () => {
    const { app, lines } = appWithLog();
    const seen = new Set<string>();
    for (const traceparent of [
      undefined,
      'garbage',
      `00-${'0'.repeat(32)}-${CALLER_SPAN}-01`,
      `ff-${CALLER_TRACE}-${CALLER_SPAN}-01`,
    ]) {
      const res = await app.request('/things/1', { headers: traceparent ? { traceparent } : {} });
      const [, traceId, spanId] = res.headers.get('traceresponse')!.match(TRACERESPONSE)!;
      expect(traceId).not.toBe(CALLER_TRACE);
      expect(lines.at(-1)).toMatchObject({ trace_id: traceId, span_id: spanId });
      seen.add(traceId!);
    }
    expect(seen.size).toBe(4);
  });

  it('with Observatory’s own tracing configured, logs and answers with the span it exports', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const { app, lines } = appWithLog(provider.getTracer('observatory'));
    const res = await app.request('/things/7', { headers: { traceparent: TRACEPARENT } });
    const [span] = exporter.getFinishedSpans();
    expect(span).toBeDefined();
    expect(span!.name).toBe('GET /things/:id');
    expect(span!.parentSpanContext?.spanId).toBe(CALLER_SPAN);
    expect(span!.attributes['http.response.status_code']).toBe(200);
    const { traceId, spanId } = span!.spanContext();
    expect(traceId).toBe(CALLER_TRACE);
    expect(res.headers.get('traceresponse')).toBe(`00-${traceId}-${spanId}-01`);
    expect(lines.at(-1)).toMatchObject({ trace_id: traceId, span_id: spanId });
    await provider.shutdown();
  });
});
