import { createRoute, z } from '@hono/zod-openapi';
import { AI_EVENT_COLUMNS, type AiEvent } from '@observatory/exporter-postgres';
import { streamSSE } from 'hono/streaming';
import type pg from 'pg';
import { requireKey, requireRole } from '../http/auth.ts';
import { BEARER, openApiRoutes, PROBLEM_RESPONSES } from '../http/openapi.ts';
import { ProblemError } from '../http/problem.ts';
import { EVENT_ROW_TYPES } from '../query/event-rows.ts';
import { EVENT_FILTER_FIELDS } from '../query/filters.ts';
import type { StreamHub, StreamMessage } from './hub.ts';

const StreamFiltersSchema = z.object({
  model_name: EVENT_FILTER_FIELDS.model_name,
  endpoint: EVENT_FILTER_FIELDS.endpoint,
  success: EVENT_FILTER_FIELDS.success,
  fallback_used: EVENT_FILTER_FIELDS.fallback_used,
});
type StreamFilters = z.infer<typeof StreamFiltersSchema>;

export interface StreamOptions {
  heartbeatMs?: number;
  /** Messages a slow client may have waiting before it is dropped. */
  maxBuffered?: number;
  /** How far back a reconnecting client is replayed. */
  replayMs?: number;
}

const COLUMNS = AI_EVENT_COLUMNS.join(', ');
const REPLAY_LIMIT = 10_000;

/** The SSE id of an event: its position in arrival order, which is what a reconnect resumes from. */
export function streamId(event: Pick<AiEvent, 'received_at' | 'id'>): string {
  return `${event.received_at.toISOString()}_${event.id}`;
}

/** The position a `Last-Event-ID` names; 400 unless it is exactly an id `streamId` made. */
function parseStreamId(text: string | undefined): { at: Date; id: string } | undefined {
  if (!text) return undefined;
  const match = /^(.+)_([0-9a-f-]{36})$/.exec(text);
  const at = match && z.iso.datetime().safeParse(match[1]).success ? new Date(match[1]!) : undefined;
  const id = match && z.uuid().safeParse(match[2]).success ? match[2]! : undefined;
  if (!at || !id || streamId({ received_at: at, id }) !== text) {
    throw new ProblemError(400, 'Last-Event-ID: not an event id this service sent', {
      errors: [{ field: 'Last-Event-ID', message: 'invalid' }],
    });
  }
  return { at, id };
}

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

const after = (e: AiEvent, mark: { at: Date; id: string }) =>
  e.received_at > mark.at || (e.received_at.getTime() === mark.at.getTime() && e.id > mark.id);

/**
 * `GET /api/telemetry/stream`: Server-Sent Events of the caller's org's new events (`telemetry`), alert changes
 * (`alert`), `connected` first and a `heartbeat` now and then. A client reconnecting with `Last-Event-ID` first gets
 * what it missed (bounded by `replayMs`), then live events, with nothing twice. A client too slow to keep up is sent
 * a final `overflow` message and dropped; it never holds up ingestion or other clients.
 */
export function streamRoutes(
  { pool, hub }: { pool: pg.Pool; hub: StreamHub },
  { heartbeatMs = 20_000, maxBuffered = 1000, replayMs = 600_000 }: StreamOptions = {},
) {
  const route = createRoute({
    method: 'get',
    path: '/api/telemetry/stream',
    operationId: 'streamTelemetry',
    tags: ['events'],
    summary: 'Server-Sent Events of new events and alert changes; Last-Event-ID resumes',
    security: BEARER,
    middleware: [requireKey(pool), requireRole('viewer', 'org_admin')],
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
          'change), `heartbeat`, and a final `overflow` when the client is too slow',
        content: { 'text/event-stream': { schema: z.string() } },
      },
      ...PROBLEM_RESPONSES,
    },
  });

  return openApiRoutes().openapi(route, (c) => {
    const filters = c.req.valid('query');
    const { orgId } = c.get('principal')!;
    const resumeFrom = parseStreamId(c.req.header('last-event-id'));

    const response = streamSSE(c, async (stream) => {
      const queue: StreamMessage[] = [];
      let wake: (() => void) | undefined;
      let overflowed = false;
      const unsubscribe = hub.subscribe(orgId, (message) => {
        if (message.kind === 'telemetry' && !matches(message.event, filters)) return;
        if (queue.length >= maxBuffered) overflowed = true;
        else queue.push(message);
        wake?.();
      });
      const heartbeat = setInterval(() => wake?.(), heartbeatMs);
      let lastBeat = Date.now();
      stream.onAbort(() => wake?.());
      try {
        await stream.writeSSE({ event: 'connected', data: JSON.stringify({ org_id: orgId, filters }) });
        let mark = resumeFrom;
        if (resumeFrom) {
          const since = new Date(Math.max(resumeFrom.at.getTime(), Date.now() - replayMs));
          const { rows } = await pool.query<AiEvent>({
            text: `SELECT ${COLUMNS} FROM ai_events WHERE org_id = $1 AND received_at >= $2
                     AND (received_at, id) > ($3, $4) ORDER BY received_at, id LIMIT ${REPLAY_LIMIT}`,
            values: [orgId, since, resumeFrom.at, resumeFrom.id],
            types: EVENT_ROW_TYPES,
          });
          for (const event of rows) {
            if (!matches(event, filters)) continue;
            await stream.writeSSE({ event: 'telemetry', id: streamId(event), data: JSON.stringify(event) });
            mark = { at: event.received_at, id: event.id };
          }
        }
        while (!stream.aborted) {
          if (overflowed) {
            await stream.writeSSE({
              event: 'overflow',
              data: JSON.stringify({ reason: 'client too slow; reconnect with Last-Event-ID' }),
            });
            break;
          }
          if (queue.length > 0) {
            // Everything waiting goes out in one write: one syscall per burst rather than per message.
            let text = '';
            for (const message of queue.splice(0, queue.length)) {
              if (message.kind === 'alert') text += sseText('alert', message.data);
              else if (!mark || after(message.event, mark)) {
                text += sseText('telemetry', message.data, streamId(message.event));
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
        unsubscribe();
      }
    });
    return response as never;
  });
}
