import { createRoute, z } from '@hono/zod-openapi';
import type { AiMetrics } from '@observatory/exporter-postgres';
import { requireBearerToken } from '../http/bearer-token.ts';
import { BEARER, openApiRoutes, problems } from '../http/openapi.ts';

export interface MetricsRouteOptions {
  metrics: AiMetrics;
  /** When set, scrapers must send it as a bearer token (`OBSERVATORY_METRICS_TOKEN`). */
  token?: string | undefined;
}

/** `GET /metrics`: Prometheus text exposition; labels come from bounded, scrubbed sets only. */
export function metricsRoutes({ metrics, token }: MetricsRouteOptions) {
  const route = createRoute({
    method: 'get',
    path: '/metrics',
    operationId: 'getMetrics',
    tags: ['service'],
    summary: 'Prometheus metrics (bearer OBSERVATORY_METRICS_TOKEN when set)',
    ...(token ? { security: BEARER, middleware: [requireBearerToken(token, 'metrics')] } : {}),
    responses: {
      200: {
        description: 'Prometheus text exposition format 0.0.4',
        content: { 'text/plain': { schema: z.string() } },
      },
      ...problems(401),
    },
  });
  return openApiRoutes().openapi(route, async (c) =>
    c.text(await metrics.render(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }),
  );
}
