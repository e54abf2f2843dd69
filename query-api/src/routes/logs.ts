import { createRoute, z } from '@hono/zod-openapi';
import { LogRowSchema } from '@observatory/exporter-postgres';
import type pg from 'pg';
import {
  jsonContent,
  keyAccess,
  named,
  openApiRoutes,
  PROBLEM_RESPONSES,
  problems,
} from '../http/openapi.ts';
import { ProblemError } from '../http/problem.ts';
import { LOG_FILTER_FIELDS } from '../logs/log-filters.ts';
import { listLogs } from '../logs/logs-sql.ts';
import { decodeCursor } from '../query/events-sql.ts';

const LogsQuerySchema = z
  .object({
    ...LOG_FILTER_FIELDS,
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: z.string().max(200).optional().describe('next_cursor of the previous page'),
  })
  .refine((f) => !f.date_from || !f.date_to || f.date_from <= f.date_to, {
    message: 'must not be after date_to',
    path: ['date_from'],
  });

/** A log line as JSON: the row with its times as ISO strings. */
export const LogLineJsonSchema = named(
  'LogLine',
  LogRowSchema.extend({
    time: z.iso.datetime(),
    observed_time: z.iso.datetime(),
    received_at: z.iso.datetime(),
  }),
);

const LogPageSchema = z
  .object({ items: z.array(LogLineJsonSchema), next_cursor: z.string().nullable() })
  .openapi('LogPage');

/** `pool` is the primary (keys are checked there, so a key works the moment it exists); `reads` may be a replica. */
export function logRoutes({ pool, reads = pool }: { pool: pg.Pool; reads?: pg.Pool }) {
  return openApiRoutes().openapi(
    createRoute({
      method: 'get',
      path: '/api/telemetry/logs',
      operationId: 'listLogs',
      tags: ['logs'],
      summary: "The caller's org's log lines (OTLP logs), newest first",
      ...keyAccess(pool, ['viewer', 'org_admin']),
      request: { query: LogsQuerySchema },
      responses: {
        200: jsonContent(LogPageSchema, 'One page'),
        ...PROBLEM_RESPONSES,
        ...problems(503),
      },
    }),
    async (c) => {
      const { limit, cursor: cursorText, ...filters } = c.req.valid('query');
      const cursor = cursorText === undefined ? undefined : decodeCursor(cursorText);
      if (cursorText !== undefined && !cursor) {
        throw new ProblemError(400, 'cursor: not a cursor this service issued', {
          errors: [{ field: 'cursor', message: 'invalid' }],
        });
      }
      const page = await listLogs(reads, c.get('principal')!.orgId, filters, { limit, cursor });
      return c.json(page as never, 200);
    },
  );
}
