import { createRoute, z } from '@hono/zod-openapi';
import { hexIdSchema, SpanKindSchema } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { BooleanTextSchema } from '../boolean-text.ts';
import { jsonContent, keyAccess, openApiRoutes, PROBLEM_RESPONSES, problems } from '../http/openapi.ts';
import { ProblemError } from '../http/problem.ts';
import { storableText } from '../http/storable-text.ts';
import { decodeKeyCursor } from '../traces/cursor.ts';
import { getSession, getTrace, listSessions, listTraces } from '../traces/read.ts';
import { MAX_SESSION_TRACES, MAX_TREE_ROWS, type Window } from '../traces/sql.ts';

const HOUR = 3_600_000;
/** The window a list reads when none is given, and the longest one it may read: each list query stays bounded. */
export const DEFAULT_WINDOW_MS = 24 * HOUR;
export const MAX_WINDOW_MS = 7 * 24 * HOUR;

const isoDate = z.iso
  .datetime({ offset: true })
  .or(z.iso.date())
  .transform((v) => new Date(v))
  .describe('ISO-8601 date or date-time');
const shortText = storableText.min(1).max(256);

const ListQueryFields = {
  date_from: isoDate.optional().describe('default: 24 hours before date_to'),
  date_to: isoDate.optional().describe('default: now'),
  model_name: shortText.optional().describe('with a model call to this model'),
  user_id: shortText.optional().describe('with a row of this user (the stored pseudonym, when it is one)'),
  service_name: shortText.optional(),
  endpoint: shortText.optional(),
  has_errors: BooleanTextSchema.optional().describe('with (true) or without (false) a failed call or span'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(400).optional().describe('next_cursor of the previous page'),
};

/** A window may not run backwards, nor be longer than `MAX_WINDOW_MS`. */
const windowInBounds = (q: { date_from?: Date | undefined; date_to?: Date | undefined }) =>
  !q.date_from ||
  !q.date_to ||
  (q.date_from <= q.date_to && q.date_to.getTime() - q.date_from.getTime() <= MAX_WINDOW_MS);
const WINDOW_OUT_OF_BOUNDS = {
  message: `must not be after date_to, nor more than ${MAX_WINDOW_MS / HOUR} hours before it`,
  path: ['date_from'],
};

const TraceListQuerySchema = z
  .object({ ...ListQueryFields, session_id: shortText.optional() })
  .refine(windowInBounds, WINDOW_OUT_OF_BOUNDS);
const SessionListQuerySchema = z.object(ListQueryFields).refine(windowInBounds, WINDOW_OUT_OF_BOUNDS);

function windowOf(orgId: string, q: { date_from?: Date | undefined; date_to?: Date | undefined }): Window {
  const to = q.date_to ?? new Date();
  const from = q.date_from ?? new Date(to.getTime() - DEFAULT_WINDOW_MS);
  if (to.getTime() - from.getTime() > MAX_WINDOW_MS) {
    // Only date_from or only date_to given, far from now: the implied window would be too long.
    throw new ProblemError(400, `date_from: the window may be at most ${MAX_WINDOW_MS / HOUR} hours`, {
      errors: [{ field: 'date_from', message: 'window too long' }],
    });
  }
  return { orgId, from, to };
}

const cost = z.string().describe('USD, exact decimal');

const TraceSummarySchema = z
  .object({
    trace_id: z.string(),
    started_at: z.iso.datetime(),
    duration_ms: z.number(),
    root_name: z.string().describe('the earliest stored span'),
    service_name: z.string().nullable(),
    spans: z.number().int().describe('stored rows: model calls and the spans around them'),
    model_calls: z.number().int(),
    input_tokens: z.number().int(),
    output_tokens: z.number().int(),
    cost_usd: cost,
    has_errors: z.boolean(),
  })
  .openapi('TraceSummary');

const TracePageSchema = z
  .object({ items: z.array(TraceSummarySchema), next_cursor: z.string().nullable() })
  .openapi('TracePage');

const TotalsSchema = z
  .object({
    spans: z.number().int(),
    model_calls: z.number().int(),
    input_tokens: z.number().int(),
    output_tokens: z.number().int(),
    cost_usd: cost,
    errors: z.number().int(),
  })
  .openapi('TraceTotals');

const TreeNodeSchema = z
  .object({
    kind: z.union([z.literal('model'), SpanKindSchema]),
    id: z.uuid(),
    span_id: z.string().nullable(),
    parent_span_id: z.string().nullable(),
    name: z.string(),
    created_at: z.iso.datetime(),
    latency_ms: z.number(),
    success: z.boolean(),
    error_code: z.string().nullable(),
    service_name: z.string().nullable(),
    endpoint: z.string().nullable(),
    user_id: z.string().nullable(),
    session_id: z.string().nullable(),
    model_name: z.string().nullable(),
    agent_name: z.string().nullable(),
    tool_name: z.string().nullable(),
    input_tokens: z.number().int().nullable(),
    output_tokens: z.number().int().nullable(),
    cost_usd: z.string().nullable(),
    depth: z.number().int(),
    children: z.number().int(),
    subtree: TotalsSchema,
    on_critical_path: z.boolean(),
  })
  .openapi('TraceSpan');

const TraceTreeSchema = z
  .object({
    trace_id: z.string(),
    truncated: z.boolean().describe(`true when the trace holds more than ${MAX_TREE_ROWS} stored rows`),
    spans: z.array(TreeNodeSchema).describe('depth first, each span before its children, siblings by start'),
    critical_path: z
      .array(z.string())
      .describe('span ids from the root down: at each level the child that ended last'),
    totals: TotalsSchema,
  })
  .openapi('TraceTree');

const sessionFields = {
  session_id: z.string(),
  first_seen: z.iso.datetime(),
  last_seen: z.iso.datetime(),
  traces: z.number().int(),
  model_calls: z.number().int(),
  input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  cost_usd: cost,
  errors: z.number().int().describe('failed model calls'),
  failed_spans: z.number().int().describe('failed agent, tool, … spans'),
  users: z.number().int().describe('distinct users'),
};
const SessionSummarySchema = z.object(sessionFields).openapi('SessionSummary');
const SessionPageSchema = z
  .object({ items: z.array(SessionSummarySchema), next_cursor: z.string().nullable() })
  .openapi('SessionPage');
const SessionSchema = z
  .object({
    ...sessionFields,
    items: z
      .array(TraceSummarySchema)
      .describe('its traces in time order, each with the totals of the whole trace'),
    traces_truncated: z.boolean().describe(`true past ${MAX_SESSION_TRACES} traces`),
  })
  .openapi('SessionDetail');

const TraceIdParams = z.object({ trace_id: hexIdSchema(16) });
const SessionIdParams = z.object({ session_id: shortText });

/**
 * Agent traces and sessions (issue 18): model calls (`ai_events`) with the agent, tool, retriever, … spans around
 * them (`ai_spans`). Every query is scoped to the caller's org; another org's trace or session is a 404.
 */
/** `pool` is the primary (keys are checked there, so a key works the moment it exists); `reads` may be a replica. */
export function traceRoutes({ pool, reads = pool }: { pool: pg.Pool; reads?: pg.Pool }) {
  const app = openApiRoutes();
  const readers = keyAccess(pool, ['viewer', 'org_admin']);

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/telemetry/traces',
      operationId: 'listTraces',
      tags: ['traces'],
      summary: 'Recent traces, newest first, with their totals',
      ...readers,
      request: { query: TraceListQuerySchema },
      responses: { 200: jsonContent(TracePageSchema, 'One page'), ...PROBLEM_RESPONSES },
    }),
    async (c) => {
      const { limit, cursor, date_from, date_to, ...filters } = c.req.valid('query');
      const window = windowOf(c.get('principal')!.orgId, { date_from, date_to });
      const page = await listTraces(reads, window, filters, { limit, cursor: decodeKeyCursor(cursor) });
      return c.json(page as never, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/telemetry/traces/{trace_id}',
      operationId: 'getTrace',
      tags: ['traces'],
      summary: 'The tree of a trace’s stored spans, with per-subtree totals and the critical path',
      ...readers,
      request: { params: TraceIdParams },
      responses: { 200: jsonContent(TraceTreeSchema, 'The tree'), ...PROBLEM_RESPONSES, ...problems(404) },
    }),
    async (c) => {
      const tree = await getTrace(reads, c.get('principal')!.orgId, c.req.valid('param').trace_id);
      if (!tree) throw new ProblemError(404, 'No such trace in this org');
      return c.json(tree as never, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/telemetry/sessions',
      operationId: 'listSessions',
      tags: ['traces'],
      summary: 'Sessions active in a window, most recently active first, with their totals',
      ...readers,
      request: { query: SessionListQuerySchema },
      responses: { 200: jsonContent(SessionPageSchema, 'One page'), ...PROBLEM_RESPONSES },
    }),
    async (c) => {
      const { limit, cursor, date_from, date_to, ...filters } = c.req.valid('query');
      const window = windowOf(c.get('principal')!.orgId, { date_from, date_to });
      const page = await listSessions(reads, window, filters, { limit, cursor: decodeKeyCursor(cursor) });
      return c.json(page as never, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/telemetry/sessions/{session_id}',
      operationId: 'getSession',
      tags: ['traces'],
      summary: 'One session: its totals and its traces in time order',
      ...readers,
      request: { params: SessionIdParams },
      responses: { 200: jsonContent(SessionSchema, 'The session'), ...PROBLEM_RESPONSES, ...problems(404) },
    }),
    async (c) => {
      // Hono keeps a segment it cannot decode as sent, which would then be looked up as an id: refuse it instead.
      const raw = new URL(c.req.url).pathname.split('/').at(-1) ?? '';
      try {
        decodeURIComponent(raw);
      } catch {
        throw new ProblemError(400, 'session_id: is not valid percent-encoded UTF-8', {
          errors: [{ field: 'session_id', message: 'is not valid percent-encoded UTF-8' }],
        });
      }
      const session = await getSession(reads, c.get('principal')!.orgId, c.req.valid('param').session_id);
      if (!session) throw new ProblemError(404, 'No such session in this org');
      return c.json(session as never, 200);
    },
  );
  return app;
}
