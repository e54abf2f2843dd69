import { createRoute, z } from '@hono/zod-openapi';
import type pg from 'pg';
import { readDrift } from '../drift/read.ts';
import { DriftItemSchema } from '../drift/schema.ts';
import { jsonContent, keyAccess, named, openApiRoutes, PROBLEM_RESPONSES } from '../http/openapi.ts';
import { ProblemError } from '../http/problem.ts';
import { storableText } from '../http/storable-text.ts';
import { errors, fallbacks, models, overview, RANGES, type Window } from '../query/aggregates-sql.ts';

const isoDate = z.iso
  .datetime({ offset: true })
  .or(z.iso.date())
  .transform((v) => new Date(v));

const AggregateQuerySchema = z
  .object({
    action: z.enum(['overview', 'models', 'errors', 'fallbacks', 'drift']),
    range: z.enum(Object.keys(RANGES) as [keyof typeof RANGES, ...(keyof typeof RANGES)[]]).default('24h'),
    date_from: isoDate.optional(),
    date_to: isoDate.optional(),
    org_id: z.string().optional(),
    model_name: storableText.min(1).max(256).optional().describe('drift: one model only'),
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

const DriftSchema = z
  .object({
    action: z.literal('drift'),
    date_from: z.iso.datetime(),
    date_to: z.iso.datetime(),
    items: z.array(named('DriftItem', DriftItemSchema)),
    note: z.string().optional().describe('why there are no items, when there are none'),
  })
  .openapi('Drift', {
    description:
      "drift: the latest stored daily PSI of each model × feature computed in the window (the last 24 h against the 7 days before), with both windows' shares per bin",
  });

const NOT_COMPUTED =
  'not computed yet: drift is computed once a day per model with calls in the last 24 h (and at start-up); `observatory drift run` computes it now';

type Query = z.infer<typeof AggregateQuerySchema>;

const ACTIONS = {
  overview,
  models,
  errors,
  fallbacks,
  drift: async (pool: pg.Pool, w: Window, q: Query) => {
    const items = await readDrift(pool, { ...w, model: q.model_name ?? null });
    return items.length ? { items } : { items, note: NOT_COMPUTED };
  },
};

/**
 * `GET /api/telemetry?action=…`: aggregates over the caller's org's events in a window (`range` back from now, or
 * `date_from`/`date_to`). Percentiles are exact (`percentile_cont` over the window's rows). `drift` reads what the
 * drift runner stored (`drift/runner.ts`) and never computes in the request: one model's PSI reads 8 days of its calls.
 */
export function telemetryRoutes({ pool }: { pool: pg.Pool }) {
  const app = openApiRoutes();
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/telemetry',
      operationId: 'getAggregates',
      tags: ['events'],
      summary: 'Aggregates: overview, per model, top errors, fallbacks, drift',
      ...keyAccess(pool, ['viewer', 'org_admin']),
      request: { query: AggregateQuerySchema },
      responses: {
        200: jsonContent(z.union([AggregateSchema, DriftSchema]), 'The aggregate'),
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
      const data = await ACTIONS[query.action](pool, window, query);
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
