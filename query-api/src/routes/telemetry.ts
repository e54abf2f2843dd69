import { createRoute } from '@hono/zod-openapi';
import type pg from 'pg';
import { z } from 'zod';
import { requireKey, requireRole } from '../http/auth.ts';
import { BEARER, openApiRoutes, PROBLEM_RESPONSES } from '../http/openapi.ts';
import { ProblemError } from '../http/problem.ts';
import { errors, fallbacks, models, overview, RANGES, type Window } from '../query/aggregates-sql.ts';

const isoDate = z.iso
  .datetime({ offset: true })
  .or(z.iso.date())
  .transform((v) => new Date(v));

const AggregateQuerySchema = z
  .object({
    action: z.enum(['overview', 'models', 'errors', 'fallbacks']),
    range: z.enum(Object.keys(RANGES) as [keyof typeof RANGES, ...(keyof typeof RANGES)[]]).default('24h'),
    date_from: isoDate.optional(),
    date_to: isoDate.optional(),
    org_id: z.string().optional(),
  })
  .refine((q) => !q.date_from || !q.date_to || q.date_from < q.date_to, {
    message: 'must be before date_to',
    path: ['date_from'],
  });

const ACTIONS = { overview, models, errors, fallbacks };

/**
 * `GET /api/telemetry?action=…`: aggregates over the caller's org's events in a window (`range` back from now, or
 * `date_from`/`date_to`). Percentiles are exact (`percentile_cont` over the window's rows).
 */
export function telemetryRoutes({ pool }: { pool: pg.Pool }) {
  const app = openApiRoutes();
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/telemetry',
      summary: 'Aggregates: overview, per model, top errors, fallbacks',
      security: BEARER,
      middleware: [requireKey(pool), requireRole('viewer', 'org_admin')],
      request: { query: AggregateQuerySchema },
      responses: {
        200: {
          description: 'The aggregate',
          content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } },
        },
        ...PROBLEM_RESPONSES,
      },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const principal = c.get('principal')!;
      if (query.org_id !== undefined && query.org_id !== principal.orgId) {
        throw new ProblemError(403, `org_id: this key belongs to org "${principal.orgId}"`, {
          errors: [{ field: 'org_id', message: 'another org' }],
        });
      }
      const to = query.date_to ?? new Date();
      const from = query.date_from ?? new Date(to.getTime() - RANGES[query.range]);
      const window: Window = { orgId: principal.orgId, from, to };
      const data = await ACTIONS[query.action](pool, window);
      return c.json(
        {
          action: query.action,
          date_from: from.toISOString(),
          date_to: to.toISOString(),
          ...(Array.isArray(data) ? { items: data } : data),
        },
        200,
      );
    },
  );
  return app;
}
