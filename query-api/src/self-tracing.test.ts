import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { decodeOtlpProtobuf } from '@observatory/exporter-postgres';
import { Hono } from 'hono';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { requestLog } from './http/request-log.ts';
import { startSelfTracing } from './self-tracing.ts';

describe('startSelfTracing', () => {
  it('exports nothing unless OTEL_* names an endpoint', () => {
    expect(startSelfTracing({})).toBeUndefined();
    expect(
      startSelfTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_SDK_DISABLED: 'true' }),
    ).toBeUndefined();
  });

  it('sends a server span per request, in the caller’s trace, to the configured OTLP endpoint', async () => {
    const bodies: Uint8Array[] = [];
    const collector = serve({
      fetch: async (req) => {
        bodies.push(new Uint8Array(await req.arrayBuffer()));
        return new Response(new Uint8Array(), { headers: { 'content-type': 'application/x-protobuf' } });
      },
      port: 0,
      hostname: '127.0.0.1',
    }) as Server;
    await new Promise((r) => collector.once('listening', r));
    const port = (collector.address() as { port: number }).port;
    const tracing = startSelfTracing({
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${port}/v1/traces`,
      OTEL_SERVICE_NAME: 'observatory-test',
    });
    expect(tracing).toBeDefined();
    const app = new Hono();
    app.use(requestLog(pino({ level: 'silent' })));
    app.get('/health', (c) => c.text('ok'));
    const traceId = 'ab'.repeat(16);
    const res = await app.request('/health', {
      headers: { traceparent: `00-${traceId}-${'cd'.repeat(8)}-01` },
    });
    await tracing!.shutdown();
    await new Promise((r) => collector.close(r));

    const spans = bodies.flatMap((b) => decodeOtlpProtobuf(b).spans);
    expect(spans).toHaveLength(1);
    expect(spans[0]).toMatchObject({
      traceId,
      parentSpanId: 'cd'.repeat(8),
      name: 'GET /health',
      kind: 2,
      resource: { 'service.name': 'observatory-test' },
    });
    expect(res.headers.get('traceresponse')).toBe(`00-${traceId}-${spans[0]!.spanId}-01`);
  });
});
