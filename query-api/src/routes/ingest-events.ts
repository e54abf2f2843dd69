import { EventEnvelopeSchema, eventFromEnvelope, type Ingest } from '@observatory/exporter-postgres';
import { Hono } from 'hono';
import type pg from 'pg';
import type { AppEnv } from '../http/app-env.ts';
import { requireKey, requireRole } from '../http/auth.ts';
import { readBody } from '../http/body.ts';
import { ProblemError } from '../http/problem.ts';
import { storeOrRetryLater } from './otlp.ts';

const MAX_EVENTS = 10_000;

interface ItemError {
  index: number;
  field: string;
  message: string;
}

/**
 * `POST /api/telemetry/events`: one event envelope or an array of them, for services that do not use OpenTelemetry.
 * Valid items are stored (durably, as for OTLP) even when others are refused; every refusal names its item and
 * field. Only when nothing is valid is the answer 400.
 */
export function ingestEventRoutes({ pool, ingest }: { pool: pg.Pool; ingest: Ingest }): Hono<AppEnv> {
  return new Hono<AppEnv>().post(
    '/api/telemetry/events',
    requireKey(pool),
    requireRole('ingest'),
    async (c) => {
      const { orgId } = c.get('principal');
      let body: unknown;
      try {
        body = JSON.parse((await readBody(c)).toString('utf8'));
      } catch (err) {
        if (err instanceof ProblemError) throw err;
        throw new ProblemError(400, `Body is not JSON: ${(err as Error).message}`);
      }
      const items = Array.isArray(body) ? body : [body];
      if (items.length === 0 || items.length > MAX_EVENTS) {
        throw new ProblemError(400, `Send between 1 and ${MAX_EVENTS} events`, {
          errors: [{ field: 'body', message: 'wrong number of events' }],
        });
      }
      const errors: ItemError[] = [];
      const receivedAt = new Date();
      const events = items.flatMap((item, index) => {
        const parsed = EventEnvelopeSchema.safeParse(item);
        if (!parsed.success) {
          for (const issue of parsed.error.issues) {
            errors.push({ index, field: issue.path.join('.') || 'event', message: issue.message });
          }
          return [];
        }
        if (parsed.data.org_id !== undefined && parsed.data.org_id !== orgId) {
          errors.push({ index, field: 'org_id', message: `this key writes to org "${orgId}" only` });
          return [];
        }
        return [eventFromEnvelope(parsed.data, { orgId, prices: ingest.priceTable, receivedAt })];
      });
      if (events.length === 0) {
        throw new ProblemError(
          400,
          `No valid event: ${errors.map((e) => `[${e.index}].${e.field}: ${e.message}`).join('; ')}`,
          {
            errors: errors.map((e) => ({
              field: `${Array.isArray(body) ? `[${e.index}].` : ''}${e.field}`,
              message: e.message,
            })),
          },
        );
      }
      await storeOrRetryLater(() => ingest.events(events));
      return c.json({
        accepted: events.length,
        rejected: items.length - events.length,
        errors,
        ids: events.map((e) => e.id),
      });
    },
  );
}
