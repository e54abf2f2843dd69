import { startTelemetry } from '@observatory/instrumentation';
import { loadConfig } from './config.ts';

const config = loadConfig();
// Telemetry starts before the HTTP server module loads, so node:http is traced from the first request.
const telemetry = startTelemetry({ serviceName: 'inference-service' });
const { serve } = await import('@hono/node-server');
const { createApp } = await import('./app.ts');
const { FakeModel } = await import('./fake-model.ts');

const model = new FakeModel({
  latencyMs: config.FAKE_MODEL_LATENCY_MS,
  errorRate: config.FAKE_MODEL_ERROR_RATE,
  fallbackRate: config.FAKE_MODEL_FALLBACK_RATE,
});
const app = createApp({ model, primaryTimeoutMs: config.PRIMARY_TIMEOUT_MS });
const server = serve({ fetch: app.fetch, hostname: config.HOST, port: config.PORT }, (info) => {
  process.stdout.write(`inference-service listening on http://${config.HOST}:${info.port}\n`);
});

function stop() {
  server.close(async () => {
    await telemetry.shutdown();
    process.exit(0);
  });
  if ('closeIdleConnections' in server) server.closeIdleConnections();
}
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
