import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startTelemetry } from './telemetry.ts';
import { traceInference } from './trace-inference.ts';

interface Received {
  path: string | undefined;
  headers: IncomingHttpHeaders;
  body: { resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] } }[] };
}

const ENV_KEYS = [
  'OTEL_SERVICE_NAME',
  'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
];
afterEach(() => {
  for (const key of ENV_KEYS) delete process.env[key];
});

describe('startTelemetry', () => {
  it('sends spans over OTLP/HTTP as the standard OTEL_* variables say', async () => {
    const received: Received[] = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({
          path: req.url,
          headers: req.headers,
          body: JSON.parse(Buffer.concat(chunks).toString()),
        });
        res.setHeader('content-type', 'application/json');
        res.end('{}');
      });
    });
    collector.listen(0, '127.0.0.1');
    await once(collector, 'listening');
    const { port } = collector.address() as AddressInfo;
    process.env.OTEL_SERVICE_NAME = 'checkout-ai';
    process.env.OTEL_RESOURCE_ATTRIBUTES = 'deployment.environment.name=staging';
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${port}`;
    process.env.OTEL_EXPORTER_OTLP_HEADERS = 'Authorization=Bearer obs_ingest_test';
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/json';

    const telemetry = startTelemetry({ serviceName: 'overridden-by-env', http: false });
    await traceInference({ operation: 'chat', model: 'gpt-4o' }, () => 'ok');
    await telemetry.shutdown();
    collector.close();

    expect(received).toHaveLength(1);
    const [request] = received;
    expect(request!.path).toBe('/v1/traces');
    expect(request!.headers.authorization).toBe('Bearer obs_ingest_test');
    const resource = Object.fromEntries(
      request!.body.resourceSpans[0]!.resource.attributes.map((a) => [a.key, a.value.stringValue]),
    );
    expect(resource['service.name']).toBe('checkout-ai');
    expect(resource['deployment.environment.name']).toBe('staging');
  });

  it('uses the given service name when the environment sets none', async () => {
    const received: string[] = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push(Buffer.concat(chunks).toString());
        res.end('{}');
      });
    });
    collector.listen(0, '127.0.0.1');
    await once(collector, 'listening');
    const { port } = collector.address() as AddressInfo;
    const telemetry = startTelemetry({
      serviceName: 'inference-service',
      http: false,
      otlp: { url: `http://127.0.0.1:${port}/v1/traces`, protocol: 'http/json' },
    });
    await traceInference({ operation: 'chat', model: 'gpt-4o' }, () => 'ok');
    await telemetry.shutdown();
    collector.close();
    expect(received.join()).toContain('"stringValue":"inference-service"');
  });

  it('keeps the traced code working when the OTLP endpoint is unreachable', async () => {
    const telemetry = startTelemetry({
      http: false,
      otlp: { url: 'http://127.0.0.1:1/v1/traces' },
      batch: { exportTimeoutMillis: 1000 },
      shutdownTimeoutMs: 500,
    });
    const result = { ok: true };
    for (let i = 0; i < 100; i++) {
      expect(await traceInference({ operation: 'chat', model: 'gpt-4o' }, () => result)).toBe(result);
    }
    await expect(telemetry.forceFlush()).resolves.toBeUndefined();
    await expect(telemetry.shutdown()).resolves.toBeUndefined();
  });
});
