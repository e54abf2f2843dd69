import { createRoute, z } from '@hono/zod-openapi';
import type pg from 'pg';
import { readDrift } from '../drift/read.ts';
import { DriftItemSchema } from '../drift/schema.ts';
import { jsonContent, keyAccess, named, openApiRoutes, PROBLEM_RESPONSES } from '../http/openapi.ts';
import { ProblemError } from '../http/problem.ts';
import { storableText } from '../http/storable-text.ts';
import {
  BREAKDOWN_DIMENSIONS,
  breakdown,
  errors,
  fallbacks,
  INTERVALS,
  MAX_SERIES_POINTS,
  MAX_WINDOW_DAYS,
  models,
  overview,
  RANGES,
  series,
  seriesPoints,
  type Window,
} from '../query/aggregates-sql.ts';
import { RELATIVE_ACCURACY } from '../query/histogram.ts';

const isoDate = z.iso
  .datetime({ offset: true })
  .or(z.iso.date())
  .transform((v) => new Date(v));

const ACTION_NAMES = ['overview', 'models', 'errors', 'fallbacks', 'series', 'breakdown', 'drift'] as const;

const AggregateQuerySchema = z
  .object({
    action: z.enum(ACTION_NAMES),
    range: z.enum(Object.keys(RANGES) as [keyof typeof RANGES, ...(keyof typeof RANGES)[]]).default('24h'),
    date_from: isoDate.optional(),
    date_to: isoDate.optional(),
    org_id: z.string().optional(),
    interval: z
      .enum(Object.keys(INTERVALS) as [keyof typeof INTERVALS, ...(keyof typeof INTERVALS)[]])
      .default('1h')
      .describe(`series: bucket width; at most ${MAX_SERIES_POINTS} buckets per window`),
    model_name: storableText.min(1).max(256).optional().describe('series, drift: one model only'),
    by: z.enum(BREAKDOWN_DIMENSIONS).optional().describe('breakdown: the dimension (required there)'),
    limit: z.coerce.number().int().min(1).max(100).default(10).describe('breakdown: rows before `others`'),
  })
  .refine((q) => !q.date_from || !q.date_to || q.date_from < q.date_to, {
    message: 'must be before date_to',
    path: ['date_from'],
  })
  .refine((q) => q.action !== 'breakdown' || q.by !== undefined, {
    message: `required by action=breakdown: one of ${BREAKDOWN_DIMENSIONS.join(', ')}`,
    path: ['by'],
  });

const AggregateSchema = z
  .object({
    action: z.enum(ACTION_NAMES),
    date_from: z.iso.datetime(),
    date_to: z.iso.datetime(),
    items: z
      .array(z.record(z.string(), z.unknown()))
      .optional()
      .describe('models, errors, fallbacks, breakdown: one row each; series: one per bucket, oldest first'),
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

const MAX_WINDOW_MS = MAX_WINDOW_DAYS * 86_400_000;

/**
 * `GET /api/telemetry?action=…`: aggregates over the caller's org's events in a window (`range` back from now, or
 * `date_from`/`date_to`, at most MAX_WINDOW_DAYS = 400 days), read from the rollups with raw rows at the ragged edges.
 * Counts, tokens and cost are exact; percentiles come from log-scale histograms, within 2 % of the exact value
 * (exact for 1m/5m series, which read raw rows).
 * `drift` reads what the drift runner stored (`drift/runner.ts`) and never computes in the request: one model's PSI
 * reads 8 days of its calls.
 */
/** `pool` is the primary (keys are checked there, so a key works the moment it exists); `reads` may be a replica. */
export function telemetryRoutes({ pool, reads = pool }: { pool: pg.Pool; reads?: pg.Pool }) {
  const app = openApiRoutes();
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/telemetry',
      operationId: 'getAggregates',
      tags: ['events'],
      summary: 'Aggregates: overview, per model, top errors, fallbacks, time series, breakdowns, drift',
      description: `Counts, tokens and cost (an exact decimal string; \`unpriced_calls\` counts calls without a price) are exact. Percentiles are within ${RELATIVE_ACCURACY * 100} % of the exact \`percentile_cont\` value (latencies under 0.01 ms count as 0), except in 1m/5m series, where they are exact. Windows are at most ${MAX_WINDOW_DAYS} days; a series at most ${MAX_SERIES_POINTS} buckets.`,
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
      if (to.getTime() - from.getTime() > MAX_WINDOW_MS) {
        throw new ProblemError(400, `date_from: the window may span at most ${MAX_WINDOW_DAYS} days`, {
          errors: [{ field: 'date_from', message: `at most ${MAX_WINDOW_DAYS} days before date_to` }],
        });
      }
      const window: Window = { orgId: principal.orgId, from, to };
      if (query.action === 'series' && seriesPoints(window, query.interval) > MAX_SERIES_POINTS) {
        throw new ProblemError(
          400,
          `interval: ${query.interval} makes more than ${MAX_SERIES_POINTS} points in this window; choose a coarser one`,
          { errors: [{ field: 'interval', message: `more than ${MAX_SERIES_POINTS} points` }] },
        );
      }
      const data = await answer(reads, window, query);
      return c.json(
        {
          action: query.action,
          date_from: from.toISOString(),
          date_to: to.toISOString(),
          ...(query.action === 'series' ? { interval: query.interval } : {}),
          ...(Array.isArray(data) ? { items: data } : data),
        },
        200,
      );
    },
  );
  return app;
}

function answer(pool: pg.Pool, window: Window, query: z.infer<typeof AggregateQuerySchema>) {
  switch (query.action) {
    case 'overview':
      return overview(pool, window);
    case 'models':
      return models(pool, window);
    case 'errors':
      return errors(pool, window);
    case 'fallbacks':
      return fallbacks(pool, window);
    case 'series':
      return series(pool, window, query.interval, query.model_name);
    case 'breakdown':
      return breakdown(pool, window, query.by!, query.limit);
    case 'drift':
      return drift(pool, window, query.model_name);
  }
}

async function drift(pool: pg.Pool, window: Window, model: string | undefined) {
  const items = await readDrift(pool, { ...window, model: model ?? null });
  return items.length ? { items } : { items, note: NOT_COMPUTED };
}
