import { fromReadableSpan, loadPriceTable, mapSpans } from '@observatory/exporter-postgres';
import { startTelemetry } from '@observatory/instrumentation';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp, MODELS } from './app.ts';
import { FakeModel } from './fake-model.ts';

const sink = new InMemorySpanExporter();
const telemetry = startTelemetry({ otlp: false, spanProcessors: [new SimpleSpanProcessor(sink)] });
afterAll(() => telemetry.shutdown());

describe('the example service and the demo', () => {
  it("call only models that Observatory's default prices cover, under the names and provider they report", async () => {
    const app = createApp({
      model: new FakeModel({ latencyMs: 0, errorRate: 0, fallbackRate: 0 }),
      primaryTimeoutMs: 1000,
    });
    const requests = [
      ['/infer', { prompt: 'hello' }],
      ['/infer', { prompt: 'hello', simulate: 'fallback' }],
      ['/analyze', { text: 'The delivery was quick.' }],
    ] as const;
    for (const [path, body] of requests) {
      const res = await app.request(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(200);
    }
    await telemetry.forceFlush();

    const events = mapSpans(sink.getFinishedSpans().map(fromReadableSpan), {
      defaultOrgId: 'demo',
      prices: loadPriceTable(),
      receivedAt: new Date(),
      pseudonymKey: 'test-pseudonym-key',
    });
    const answeredBy = events.map((e) => e.model_version ?? e.model_name);
    for (const model of Object.values(MODELS)) {
      expect(answeredBy.some((name) => name.startsWith(model))).toBe(true);
    }
    for (const event of events) {
      expect(event, event.model_version ?? event.model_name).toMatchObject({ cost_source: 'catalog' });
      expect(Number(event.cost_usd)).toBeGreaterThan(0);
    }
  });
});
