import { createRoute, z } from '@hono/zod-openapi';
import type { AiEvent } from '@observatory/exporter-postgres';
import { streamSSE } from 'hono/streaming';
import type pg from 'pg';
import { BooleanTextSchema } from '../boolean-text.ts';
import { databaseVerifier, requireKey, requireRole } from '../http/auth.ts';
import { BEARER, openApiRoutes, PROBLEM_RESPONSES, problems } from '../http/openapi.ts';
import type { Logger } from '../log.ts';
import { LOG_FILTER_FIELDS, logMatches } from '../logs/log-filters.ts';
import { EVENT_ROW_TYPES } from '../query/event-rows.ts';
import { EVENT_FILTER_FIELDS } from '../query/filters.ts';
import type { CredentialEnd } from './credential-status.ts';
import { CredentialWatch } from './credential-watch.ts';
import type { StreamHub, StreamMessage } from './hub.ts';
import {
  HORIZON_SQL,
  isAfter,
  POSITIONED_COLUMNS,
  type PositionedRow,
  parseLastEventId,
  positioned,
  type ResumeFrom,
  type StreamPosition,
  streamId,
} from './position.ts';
import { sharedVerifier } from './shared-verifier.ts';
import { StreamCaps } from './stream-caps.ts';

const StreamFiltersSchema = z.object({
  model_name: EVENT_FILTER_FIELDS.model_name,
  endpoint: EVENT_FILTER_FIELDS.endpoint,
  success: EVENT_FILTER_FIELDS.success,
  fallback_used: EVENT_FILTER_FIELDS.fallback_used,
  telemetry: BooleanTextSchema.optional().describe(
    'false: no `telemetry` messages (a log tail); default true',
  ),
  logs: BooleanTextSchema.optional().describe(
    'true: `log` messages too (new log lines), filtered by the fields below',
  ),
  min_severity: LOG_FILTER_FIELDS.min_severity,
  service: LOG_FILTER_FIELDS.service,
  trace_id: LOG_FILTER_FIELDS.trace_id,
  span_id: LOG_FILTER_FIELDS.span_id,
  q: LOG_FILTER_FIELDS.q,
});
type StreamFilters = z.infer<typeof StreamFiltersSchema>;

export interface StreamOptions {
  heartbeatMs?: number;
  /** Messages a slow client may have waiting before it is dropped. */
  maxBuffered?: number;
  /** How far back a reconnecting client is replayed. */
  replayMs?: number;
  /** Concurrent streams one key may hold in this process. */
  maxPerKey?: number;
  /** Concurrent streams one org may hold in this process. */
  maxPerOrg?: number;
  /** How often every open stream's key or session is checked for revocation, logout or expiry. */
  recheckMs?: number;
  /** A stream ends after this long (less up to a tenth, at random); the client resumes with Last-Event-ID. */
  maxLifetimeMs?: number;
}

type StreamEnd = CredentialEnd | 'max_lifetime';

const END_DETAIL: Record<StreamEnd, string> = {
  key_revoked: 'The API key of this stream was revoked',
  session_ended: 'The console session of this stream was signed out; sign in again',
  session_expired: 'The console session of this stream expired; sign in again',
  max_lifetime:
    'This stream reached its maximum lifetime; reconnect with Last-Event-ID to resume where it ended',
};

const REPLAY_LIMIT = 10_000;

function matches(event: AiEvent, f: StreamFilters): boolean {
  return (
    (f.model_name === undefined || event.model_name === f.model_name) &&
    (f.endpoint === undefined || event.endpoint === f.endpoint) &&
    (f.success === undefined || event.success === f.success) &&
    (f.fallback_used === undefined || event.fallback_used === f.fallback_used)
  );
}

/** One SSE message; `data` is JSON, which holds no raw line breaks. */
function sseText(event: string, data: string, id?: string): string {
  return `event: ${event}\n${id ? `id: ${id}\n` : ''}data: ${data}\n\n`;
}

/**
 * What a reconnecting client missed, in stream order, below the horizon (the hub delivers the rest). An id from
 * before positions were in commit order replays what was received after it, rows from before 0044 first.
 */
async function replay(
  pool: pg.Pool,
  orgId: string,
  from: ResumeFrom,
  since: Date,
): Promise<{ event: AiEvent; position: StreamPosition }[]> {
  const after =
    'position' in from
      ? {
          sql: '(xact_id, id) > ($3::xid8, $4::uuid)',
          values: [from.position.xid.toString(), from.position.id],
        }
      : { sql: '(received_at, id) > ($3, $4::uuid)', values: [from.receivedAfter.at, from.receivedAfter.id] };
  const { rows } = await pool.query<PositionedRow>({
    text: `SELECT ${POSITIONED_COLUMNS} FROM ai_events, (SELECT ${HORIZON_SQL} AS horizon) h
           WHERE org_id = $1 AND received_at >= $2 AND ${after.sql} AND (xact_id IS NULL OR xact_id < h.horizon)
           ORDER BY xact_id NULLS FIRST, id LIMIT ${REPLAY_LIMIT}`,
    values: [orgId, since, ...after.values],
    types: EVENT_ROW_TYPES,
  });
  return rows.map(positioned);
}

/**
 * `GET /api/telemetry/stream`: Server-Sent Events of the caller's org's new events (`telemetry`), alert changes
 * (`alert`), `connected` first and a `heartbeat` now and then. A client reconnecting with `Last-Event-ID` first gets
 * what it missed (bounded by `replayMs`), then live events, with nothing twice. A client too slow to keep up is sent
 * a final `overflow` message and dropped; it never holds up ingestion or other clients. A key or org past its cap of
 * open streams gets 429; a stream whose key is revoked or whose session ends, or that reaches its maximum lifetime,
 * gets a final `closed` message saying why. An idle stream holds no database connection.
 */
export function streamRoutes(
  { pool, hub, logger }: { pool: pg.Pool; hub: StreamHub; logger?: Logger | undefined },
  {
    heartbeatMs = 20_000,
    maxBuffered = 1000,
    replayMs = 600_000,
    maxPerKey = 20,
    maxPerOrg = 200,
    recheckMs = 10_000,
    maxLifetimeMs = 3_600_000,
  }: StreamOptions = {},
) {
  const caps = new StreamCaps({ maxPerKey, maxPerOrg });
  const credentials = new CredentialWatch(pool, { recheckMs, logger });
  const route = createRoute({
    method: 'get',
    path: '/api/telemetry/stream',
    operationId: 'streamTelemetry',
    tags: ['events'],
    summary: 'Server-Sent Events of new events and alert changes; Last-Event-ID resumes',
    security: BEARER,
    middleware: [
      requireKey(pool, credentials.verifier(sharedVerifier(databaseVerifier(pool)))),
      requireRole('viewer', 'org_admin'),
    ],
    request: {
      query: StreamFiltersSchema,
      headers: z.object({
        'last-event-id': z.string().optional().describe('The id of the last `telemetry` message received'),
      }),
    },
    responses: {
      200: {
        description:
          'An endless stream: `connected` first, then `telemetry` (an AiEvent, with an id), `alert` (an alert ' +
          'change), `log` (a LogLine, with `logs=true`; live only, not replayed) and `heartbeat` messages; a final ' +
          '`closed` or `overflow` message says why the server ended it',
        content: { 'text/event-stream': { schema: z.string() } },
      },
      ...PROBLEM_RESPONSES,
      ...problems(429),
    },
  });

  return openApiRoutes().openapi(route, (c) => {
    const filters = c.req.valid('query');
    const principal = c.get('principal')!;
    const { orgId } = principal;
    const credential = c.get('credential')!;
    const lastEventId = c.req.header('last-event-id');
    const resumeFrom = parseLastEventId(lastEventId);
    const release = caps.admit(principal);

    const response = streamSSE(c, async (stream) => {
      const queue: StreamMessage[] = [];
      let wake: (() => void) | undefined;
      // Why the client must reconnect with Last-Event-ID to go on: set, the stream ends after what it sent.
      let overflow: string | undefined;
      let ended: StreamEnd | undefined;
      let lastId = resumeFrom && lastEventId;
      const end = (reason: StreamEnd) => {
        ended ??= reason;
        wake?.();
      };
      const unwatch = credentials.watch(credential, principal, end);
      // Up to a tenth earlier at random, so that clients connected together do not all reconnect together.
      const lifetime = setTimeout(() => end('max_lifetime'), maxLifetimeMs * (1 - Math.random() / 10));
      const unsubscribe = hub.subscribe(
        orgId,
        (message) => {
          if (
            message.kind === 'telemetry' &&
            (filters.telemetry === false || !matches(message.event, filters))
          )
            return;
          if (message.kind === 'log' && !logMatches(message.row, filters)) return;
          // Log lines count against the same buffer: a flood of them drops a slow client as events would.
          if (queue.length >= maxBuffered) overflow ??= 'client too slow; reconnect with Last-Event-ID';
          else queue.push(message);
          wake?.();
        },
        { logs: filters.logs === true },
      );
      const heartbeat = setInterval(() => wake?.(), heartbeatMs);
      let lastBeat = Date.now();
      stream.onAbort(() => wake?.());
      try {
        await stream.writeSSE({ event: 'connected', data: JSON.stringify({ org_id: orgId, filters }) });
        // Live events at or before this were sent already (by the replay, or before the reconnect).
        let mark = resumeFrom && 'position' in resumeFrom ? resumeFrom.position : undefined;
        if (resumeFrom && filters.telemetry !== false) {
          const window = Date.now() - replayMs;
          const since =
            'position' in resumeFrom
              ? new Date(window)
              : new Date(Math.max(resumeFrom.receivedAfter.at.getTime(), window));
          const missed = await replay(pool, orgId, resumeFrom, since);
          for (const { event, position } of missed) {
            mark = position;
            if (!matches(event, filters)) continue;
            lastId = streamId(position);
            await stream.writeSSE({ event: 'telemetry', id: lastId, data: JSON.stringify(event) });
          }
          // Live events would skip what a capped replay left out: the client resumes after the last row it was
          // replayed (sent as this message's id, since the filters may have kept none of them) instead.
          if (missed.length === REPLAY_LIMIT && mark) {
            overflow ??= 'more missed events than one replay sends; reconnect with Last-Event-ID';
            lastId = streamId(mark);
          }
        }
        while (!stream.aborted) {
          if (ended) {
            await stream.writeSSE({
              event: 'closed',
              data: JSON.stringify({
                reason: ended,
                detail: END_DETAIL[ended],
                last_event_id: lastId ?? null,
              }),
            });
            break;
          }
          if (overflow) {
            await stream.writeSSE({
              event: 'overflow',
              id: lastId,
              data: JSON.stringify({ reason: overflow }),
            });
            break;
          }
          if (queue.length > 0) {
            // Everything waiting goes out in one write: one syscall per burst rather than per message.
            let text = '';
            for (const message of queue.splice(0, queue.length)) {
              if (message.kind === 'alert') text += sseText('alert', message.data);
              else if (message.kind === 'log') text += sseText('log', message.data);
              else if (!mark || isAfter(message.position, mark)) {
                lastId = streamId(message.position);
                text += sseText('telemetry', message.data, lastId);
              }
            }
            if (text) await stream.write(text);
          } else if (Date.now() - lastBeat >= heartbeatMs) {
            lastBeat = Date.now();
            await stream.writeSSE({
              event: 'heartbeat',
              data: JSON.stringify({ time: new Date().toISOString() }),
            });
          } else {
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
            wake = undefined;
          }
        }
      } finally {
        clearInterval(heartbeat);
        clearTimeout(lifetime);
        unwatch();
        unsubscribe();
        release();
      }
    });
    return response as never;
  });
}
