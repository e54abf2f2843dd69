import { createRoute, z } from '@hono/zod-openapi';
import type pg from 'pg';
import { retryOnConnectionLoss } from '../db/retry.ts';
import { jsonContent, openApiRoutes } from '../http/openapi.ts';

const HEALTH_TIMEOUT_MS = 2000;

const HealthSchema = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    database: z.enum(['ok', 'unreachable']),
    error: z.string().optional(),
  })
  .openapi('Health');

const route = createRoute({
  method: 'get',
  path: '/health',
  operationId: 'getHealth',
  tags: ['service'],
  summary: 'Service and database health',
  responses: {
    200: jsonContent(HealthSchema, 'The service and its database are up'),
    503: jsonContent(HealthSchema, 'The database is unreachable'),
  },
});

export function healthRoutes({ pool }: { pool: pg.Pool }) {
  return openApiRoutes().openapi(route, async (c) => {
    try {
      await Promise.race([
        // A pooled connection the server dropped a moment ago is no verdict on the database: ask once more.
        retryOnConnectionLoss(() => pool.query('SELECT 1'), { attempts: 2, baseMs: 50 }),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('timed out')), HEALTH_TIMEOUT_MS).unref(),
        ),
      ]);
      return c.json({ status: 'ok', database: 'ok' } as const, 200);
    } catch (err) {
      return c.json(
        { status: 'unavailable', database: 'unreachable', error: (err as Error).message } as const,
        503,
      );
    }
  });
}
