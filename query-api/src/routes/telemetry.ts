import { createRoute, z } from '@hono/zod-openapi';
import type pg from 'pg';
import { jsonContent, keyAccess, openApiRoutes, PROBLEM_RESPONSES } from '../http/openapi.ts';
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

const AggregateSchema = z
  .object({
    action: z.enum(['overview', 'models', 'errors', 'fallbacks']),
    date_from: z.iso.datetime(),
    date_to: z.iso.datetime(),
    items: z
      .array(z.record(z.string(), z.unknown()))
      .optional()
      .describe('models, errors, fallbacks: one row each'),
  })
  .catchall(z.unknown())
  .openapi('Aggregate', { description: 'overview: its figures as fields; the other actions: `items`' });

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
      operationId: 'getAggregates',
      tags: ['events'],
      summary: 'Aggregates: overview, per model, top errors, fallbacks',
      ...keyAccess(pool, ['viewer', 'org_admin']),
      request: { query: AggregateQuerySchema },
      responses: {
        200: jsonContent(AggregateSchema, 'The aggregate'),
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
