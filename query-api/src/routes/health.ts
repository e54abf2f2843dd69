import { createRoute, z } from '@hono/zod-openapi';
import type pg from 'pg';
import { replicaLagSeconds } from '../db/replica-lag.ts';
import { retryOnConnectionLoss } from '../db/retry.ts';
import { jsonContent, openApiRoutes } from '../http/openapi.ts';

const HEALTH_TIMEOUT_MS = 2000;

const HealthSchema = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    database: z.enum(['ok', 'unreachable']),
    error: z.string().optional(),
    read_replica: z
      .object({
        status: z.enum(['ok', 'unreachable']),
        lag_seconds: z
          .number()
          .nullable()
          .describe('how far its data is behind the primary; null when it is not a standby'),
        error: z.string().optional(),
      })
      .optional()
      .describe(
        'only with DATABASE_READ_URL; an unreachable replica fails list and aggregate reads, not writes',
      ),
  })
  .openapi('Health');

type ReplicaHealth = NonNullable<z.infer<typeof HealthSchema>['read_replica']>;

async function replicaHealth(reads: pg.Pool): Promise<ReplicaHealth> {
  try {
    return { status: 'ok', lag_seconds: await replicaLagSeconds(reads) };
  } catch (err) {
    return { status: 'unreachable', lag_seconds: null, error: (err as Error).message };
  }
}

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

/** The primary decides the status (it takes every write); a read replica is reported beside it, with its lag. */
export function healthRoutes({ pool, reads = pool }: { pool: pg.Pool; reads?: pg.Pool }) {
  return openApiRoutes().openapi(route, async (c) => {
    // Asked alongside the primary, not after it: both are bounded by their own timeout.
    const replica = reads === pool ? undefined : replicaHealth(reads);
    try {
      await Promise.race([
        // A pooled connection the server dropped a moment ago is no verdict on the database: ask once more.
        retryOnConnectionLoss(() => pool.query('SELECT 1'), { attempts: 2, baseMs: 50 }),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('timed out')), HEALTH_TIMEOUT_MS).unref(),
        ),
      ]);
      return c.json({ status: 'ok', database: 'ok', read_replica: await replica } as const, 200);
    } catch (err) {
      return c.json(
        {
          status: 'unavailable',
          database: 'unreachable',
          error: (err as Error).message,
          read_replica: await replica,
        } as const,
        503,
      );
    }
  });
}
