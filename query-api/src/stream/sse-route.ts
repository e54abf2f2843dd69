import { AI_EVENT_COLUMNS, type AiEvent } from '@observatory/exporter-postgres';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type pg from 'pg';
import { z } from 'zod';
import type { AppEnv } from '../http/app-env.ts';
import { requireKey, requireRole } from '../http/auth.ts';
import { ProblemError, problemFromZod } from '../http/problem.ts';
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
): Hono<AppEnv> {
  return new Hono<AppEnv>().get(
    '/api/telemetry/stream',
    requireKey(pool),
    requireRole('viewer', 'org_admin'),
    (c) => {
      const parsed = StreamFiltersSchema.safeParse(c.req.query());
      if (!parsed.success) throw problemFromZod(parsed.error);
      const filters = parsed.data;
      const { orgId } = c.get('principal')!;
      const resumeFrom = parseStreamId(c.req.header('last-event-id'));

      return streamSSE(c, async (stream) => {
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
    },
  );
}
