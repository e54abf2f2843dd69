import type { AiMetrics } from '@observatory/exporter-postgres';
import { Hono } from 'hono';
import type { AppEnv } from '../app.ts';

/** `GET /metrics`: Prometheus text exposition; labels come from bounded sets only. */
export function metricsRoutes({ metrics }: { metrics: AiMetrics }): Hono<AppEnv> {
  return new Hono<AppEnv>().get('/metrics', async (c) =>
    c.body(await metrics.render(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }),
  );
}
