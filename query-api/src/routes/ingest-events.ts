import { createRoute, z } from '@hono/zod-openapi';
import { EventEnvelopeSchema, eventFromEnvelope, type Ingest } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { requireKey, requireRole } from '../http/auth.ts';
import { jsonBody, MAX_BODY_BYTES } from '../http/body.ts';
import { BEARER, jsonContent, named, openApiRoutes, PROBLEM_RESPONSES, problems } from '../http/openapi.ts';
import { ProblemError } from '../http/problem.ts';
import { storeOrRetryLater } from '../http/store-or-retry.ts';

const MAX_EVENTS = 10_000;

/** Documented as its own component; each item is checked against it on its own, so one bad item refuses only itself. */
const EventEnvelopeJsonSchema = named('EventEnvelope', EventEnvelopeSchema);

const IngestBodySchema = z.union([z.array(z.unknown()).min(1).max(MAX_EVENTS), z.looseObject({})]).openapi({
  description: `One EventEnvelope (#/components/schemas/EventEnvelope) or an array of 1 to ${MAX_EVENTS}`,
});

const ItemErrorSchema = z.object({ index: z.number().int(), field: z.string(), message: z.string() });
type ItemError = z.infer<typeof ItemErrorSchema>;

const IngestResultSchema = z
  .object({
    accepted: z.number().int(),
    rejected: z.number().int(),
    errors: z.array(ItemErrorSchema).describe('One entry per refused field, naming its item by index'),
    ids: z.array(z.uuid()).describe('The stored events’ ids, in the order sent'),
  })
  .openapi('IngestResult');

/**
 * `POST /api/telemetry/events`: one event envelope or an array of them, for services that do not use OpenTelemetry.
 * Valid items are stored (durably, as for OTLP) even when others are refused; every refusal names its item and
 * field. Only when nothing is valid is the answer 400.
 */
export function ingestEventRoutes({
  pool,
  ingest,
}: {
  pool: pg.Pool;
  ingest: Pick<Ingest, 'events' | 'priceTable'>;
}) {
  const app = openApiRoutes();
  app.openAPIRegistry.register('EventEnvelope', EventEnvelopeJsonSchema);
  const route = createRoute({
    method: 'post',
    path: '/api/telemetry/events',
    operationId: 'ingestEvents',
    tags: ['ingest'],
    summary: 'Ingest event envelopes as JSON (one or an array); ingest key',
    security: BEARER,
    middleware: [requireKey(pool), requireRole('ingest'), jsonBody(MAX_BODY_BYTES)],
    request: { body: { ...jsonContent(IngestBodySchema, 'Events'), required: true } },
    responses: {
      200: jsonContent(IngestResultSchema, 'What was stored and what was refused'),
      ...PROBLEM_RESPONSES,
      ...problems(413, 415, 429, 503),
    },
  });

  return app.openapi(route, async (c) => {
    const { orgId } = c.get('principal')!;
    const body = c.req.valid('json');
    const items: unknown[] = Array.isArray(body) ? body : [body];
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
    return c.json(
      {
        accepted: events.length,
        rejected: items.length - events.length,
        errors,
        ids: events.map((e) => e.id),
      },
      200,
    );
  });
}
