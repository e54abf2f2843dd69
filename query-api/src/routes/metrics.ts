import type { AiMetrics } from '@observatory/exporter-postgres';
import { Hono } from 'hono';
import type { AppEnv } from '../app.ts';
import { requireBearerToken } from '../http/bearer-token.ts';

export interface MetricsRouteOptions {
  metrics: AiMetrics;
  /** When set, scrapers must send it as a bearer token (`OBSERVATORY_METRICS_TOKEN`). */
  token?: string | undefined;
}

/** `GET /metrics`: Prometheus text exposition; labels come from bounded, scrubbed sets only. */
export function metricsRoutes({ metrics, token }: MetricsRouteOptions): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  if (token) app.use('/metrics', requireBearerToken(token, 'metrics'));
  return app.get('/metrics', async (c) =>
    c.body(await metrics.render(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }),
  );
}
