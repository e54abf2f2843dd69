import { Readable } from 'node:stream';
import { createRoute, z } from '@hono/zod-openapi';
import type pg from 'pg';
import {
  AiEventJsonSchema,
  jsonContent,
  keyAccess,
  openApiRoutes,
  PROBLEM_RESPONSES,
  problems,
} from '../http/openapi.ts';
import { ProblemError } from '../http/problem.ts';
import { eventCsvStream } from '../query/csv.ts';
import {
  type Cursor,
  decodeCursor,
  getEvent,
  listEvents,
  streamEvents,
  TOTAL_COUNT_CAP,
} from '../query/events-sql.ts';
import { DATES_OUT_OF_ORDER, datesInOrder, EVENT_FILTER_FIELDS, scopeFilters } from '../query/filters.ts';

/** An offset makes the database read and drop every row before the page; cursors cost the same at any depth. */
const MAX_OFFSET = 10_000;

const PageQuerySchema = z
  .object({
    ...EVENT_FILTER_FIELDS,
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    offset: z.coerce
      .number()
      .int()
      .min(0)
      .max(MAX_OFFSET)
      .default(0)
      .describe(`at most ${MAX_OFFSET}; deeper pages by cursor`),
    cursor: z.string().max(200).optional().describe('next_cursor of the previous page, for deep pages'),
  })
  .refine(datesInOrder, DATES_OUT_OF_ORDER);

const StreamQuerySchema = z
  .object({ ...EVENT_FILTER_FIELDS, limit: z.coerce.number().int().min(1).max(100_000).default(1000) })
  .refine(datesInOrder, DATES_OUT_OF_ORDER);

const EventPageSchema = z
  .object({
    total: z.number().int(),
    total_is_estimate: z
      .boolean()
      .describe(`true past ${TOTAL_COUNT_CAP} matches: total is then the planner's estimate`),
    items: z.array(AiEventJsonSchema),
    next_cursor: z.string().nullable(),
  })
  .openapi('EventPage');

function cursorOf(text: string | undefined): Cursor | undefined {
  if (text === undefined) return undefined;
  const cursor = decodeCursor(text);
  if (!cursor) {
    throw new ProblemError(400, 'cursor: not a cursor this service issued', {
      errors: [{ field: 'cursor', message: 'invalid' }],
    });
  }
  return cursor;
}

/** `pool` is the primary (keys are checked there, so a key works the moment it exists); `reads` may be a replica. */
export function eventRoutes({
  pool,
  reads = pool,
  countBudgetMs,
}: {
  pool: pg.Pool;
  reads?: pg.Pool;
  countBudgetMs?: number | undefined;
}) {
  const app = openApiRoutes();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/telemetry/events',
      operationId: 'listEvents',
      tags: ['events'],
      summary: "The caller's org's events, newest first",
      ...keyAccess(pool, ['viewer', 'org_admin']),
      request: { query: PageQuerySchema },
      responses: {
        200: jsonContent(EventPageSchema, 'One page'),
        ...PROBLEM_RESPONSES,
      },
    }),
    async (c) => {
      const { limit, offset, cursor, ...filters } = c.req.valid('query');
      const scoped = scopeFilters(filters, c.get('principal')!);
      const page = await listEvents(
        reads,
        scoped,
        { limit, offset, cursor: cursorOf(cursor) },
        countBudgetMs,
      );
      return c.json(page as never, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/telemetry/events/stream',
      operationId: 'streamEventsCsv',
      tags: ['events'],
      summary: 'The same events as CSV, streamed from a server-side cursor',
      ...keyAccess(pool, ['viewer', 'org_admin']),
      request: { query: StreamQuerySchema },
      responses: {
        200: { description: 'CSV with a header row', content: { 'text/csv': { schema: z.string() } } },
        ...PROBLEM_RESPONSES,
      },
    }),
    async (c) => {
      const { limit, ...filters } = c.req.valid('query');
      const scoped = scopeFilters(filters, c.get('principal')!);
      const events = await streamEvents(reads, scoped, limit);
      const csv = events.pipe(eventCsvStream());
      events.on('error', (err) => csv.destroy(err));
      // A client that hangs up destroys the CSV stream; that ends the cursor and frees its connection.
      csv.on('close', () => events.destroy());
      return c.body(Readable.toWeb(csv) as ReadableStream, 200, {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': 'attachment; filename="ai-events.csv"',
      });
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/telemetry/events/{id}',
      operationId: 'getEvent',
      tags: ['events'],
      summary: 'One event',
      ...keyAccess(pool, ['viewer', 'org_admin']),
      request: { params: z.object({ id: z.uuid() }) },
      responses: {
        200: jsonContent(AiEventJsonSchema, 'The event'),
        ...PROBLEM_RESPONSES,
        ...problems(404),
      },
    }),
    async (c) => {
      const event = await getEvent(reads, c.get('principal')!.orgId, c.req.valid('param').id);
      if (!event) throw new ProblemError(404, 'No such event in this org');
      return c.json(event as never, 200);
    },
  );
  return app;
}
