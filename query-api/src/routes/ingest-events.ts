import { createRoute, z } from '@hono/zod-openapi';
import {
  type AiEvent,
  type BodyDecoder,
  DecoderUnavailableError,
  EventEnvelopeSchema,
  eventFromEnvelope,
  forEachInSlices,
  type Ingest,
  JsonBodyError,
  type JsonItems,
} from '@observatory/exporter-postgres';
import type pg from 'pg';
import { readBody } from '../http/body.ts';
import type { BodyBudget } from '../http/body-budget.ts';
import {
  ingestAccess,
  jsonContent,
  named,
  openApiRoutes,
  PROBLEM_RESPONSES,
  problems,
} from '../http/openapi.ts';
import { ProblemError } from '../http/problem.ts';
import { storeOrRetryLater } from '../http/store-or-retry.ts';

const MAX_EVENTS = 10_000;

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

// The body is documented, not validated by the framework: it is parsed off the event loop (and each item then
// checked on its own), so one bad item refuses only itself. Hence a plain JSON Schema pointing at the component.
const ENVELOPE_REF = { $ref: '#/components/schemas/EventEnvelope' };
const INGEST_BODY = {
  oneOf: [ENVELOPE_REF, { type: 'array' as const, items: ENVELOPE_REF, minItems: 1, maxItems: MAX_EVENTS }],
};

/** The body's items: one envelope object, or an array of them; anything else is a 400 naming the body. */
async function itemsOrRefuse(decoder: BodyDecoder, body: Buffer): Promise<JsonItems> {
  let parsed: JsonItems;
  try {
    parsed = await decoder.json(body);
  } catch (err) {
    if (err instanceof JsonBodyError) {
      throw new ProblemError(400, err.message, { errors: [{ field: 'body', message: err.message }] });
    }
    if (err instanceof DecoderUnavailableError) {
      throw new ProblemError(503, `${err.message}; retry later`, {}, { 'Retry-After': '1' });
    }
    throw err;
  }
  const [single] = parsed.items;
  if (!parsed.array && (typeof single !== 'object' || single === null)) {
    const message = 'must be a JSON object (one event) or an array of them';
    throw new ProblemError(400, `Body ${message}`, { errors: [{ field: 'body', message }] });
  }
  return parsed;
}

/**
 * `POST /api/telemetry/events`: one event envelope or an array of them, for services that do not use OpenTelemetry.
 * Valid items are stored (durably, as for OTLP) even when others are refused; every refusal names its item and
 * field. Only when nothing is valid is the answer 400. Parsing and validation never hold up the event loop.
 */
export function ingestEventRoutes({
  pool,
  ingest,
  budget,
  decoder,
}: {
  pool: pg.Pool;
  ingest: Pick<Ingest, 'events' | 'capacity' | 'priceTable' | 'pseudonymKey'>;
  budget: BodyBudget;
  decoder: BodyDecoder;
}) {
  const app = openApiRoutes();
  app.openAPIRegistry.register('EventEnvelope', named('EventEnvelope', EventEnvelopeSchema));
  const route = createRoute({
    method: 'post',
    path: '/api/telemetry/events',
    operationId: 'ingestEvents',
    tags: ['ingest'],
    summary: 'Ingest event envelopes as JSON (one or an array); ingest key',
    ...ingestAccess(pool),
    request: {
      body: { required: true, content: { 'application/json': { schema: INGEST_BODY } } },
    },
    responses: {
      200: jsonContent(IngestResultSchema, 'What was stored and what was refused'),
      ...PROBLEM_RESPONSES,
      ...problems(413, 415, 429, 503),
    },
  });

  return app.openapi(route, async (c) => {
    const { orgId } = c.get('principal')!;
    const hold = budget.hold();
    try {
      const { items, array } = await itemsOrRefuse(decoder, await readBody(c, hold));
      if (items.length === 0 || items.length > MAX_EVENTS) {
        throw new ProblemError(400, `Send between 1 and ${MAX_EVENTS} events`, {
          errors: [{ field: 'body', message: 'wrong number of events' }],
        });
      }
      if (items.length > ingest.capacity) {
        throw new ProblemError(
          413,
          `The request carries ${items.length} events; at most ${ingest.capacity} are taken per request (OBSERVATORY_INGEST_QUEUE)`,
          { errors: [{ field: 'body', message: `more than ${ingest.capacity} events` }] },
        );
      }
      const errors: ItemError[] = [];
      const receivedAt = new Date();
      const events: AiEvent[] = [];
      await forEachInSlices(items.entries(), ([index, item]) => {
        const parsed = EventEnvelopeSchema.safeParse(item);
        if (!parsed.success) {
          for (const issue of parsed.error.issues) {
            errors.push({ index, field: issue.path.join('.') || 'event', message: issue.message });
          }
          return;
        }
        if (parsed.data.org_id !== undefined && parsed.data.org_id !== orgId) {
          errors.push({ index, field: 'org_id', message: `this key writes to org "${orgId}" only` });
          return;
        }
        events.push(
          eventFromEnvelope(parsed.data, {
            orgId,
            prices: ingest.priceTable,
            receivedAt,
            pseudonymKey: ingest.pseudonymKey,
          }),
        );
      });
      if (events.length === 0) {
        throw new ProblemError(
          400,
          `No valid event: ${errors.map((e) => `[${e.index}].${e.field}: ${e.message}`).join('; ')}`,
          {
            errors: errors.map((e) => ({
              field: `${array ? `[${e.index}].` : ''}${e.field}`,
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
    } finally {
      hold.release();
    }
  });
}
