import { createRoute } from '@hono/zod-openapi';
import {
  type BodyDecoder,
  DecoderUnavailableError,
  encodeExportTraceResponse,
  type Ingest,
  OtlpDecodeError,
  TooManySpansError,
} from '@observatory/exporter-postgres';
import type { Context } from 'hono';
import type pg from 'pg';
import { readBody } from '../http/body.ts';
import type { BodyBudget } from '../http/body-budget.ts';
import { ingestAccess, openApiRoutes, PROBLEM_RESPONSES, problems } from '../http/openapi.ts';
import { ProblemError } from '../http/problem.ts';
import { storeOrRetryLater } from '../http/store-or-retry.ts';

export type OtlpFormat = 'protobuf' | 'json';

/** The encoding of an OTLP/HTTP request, from its Content-Type (415 for any other). */
export function otlpFormat(c: Context): OtlpFormat {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  throw new ProblemError(415, 'Content-Type must be application/x-protobuf or application/json');
}

/**
 * What an OTLP body decodes to, or the answer the request gets instead: 400 (not OTLP), 413 (more items than the
 * queue takes; `field` names the top-level list) or 503 (the decoding thread stopped).
 */
export async function decodeOrRefuse<T>(decode: () => Promise<T>, field: string): Promise<T> {
  try {
    return await decode();
  } catch (err) {
    if (err instanceof OtlpDecodeError) {
      throw new ProblemError(400, err.message, { errors: [{ field: 'body', message: err.message }] });
    }
    if (err instanceof TooManySpansError) {
      throw new ProblemError(
        413,
        `${err.message} (OBSERVATORY_INGEST_QUEUE); send them in smaller requests`,
        { errors: [{ field, message: `more than ${err.max} ${err.unit}` }] },
      );
    }
    if (err instanceof DecoderUnavailableError) {
      throw new ProblemError(503, `${err.message}; retry later`, {}, { 'Retry-After': '1' });
    }
    throw err;
  }
}

/** One OTLP/HTTP signal's route: its names in the OTLP protos, how its body decodes, where its items go. */
export interface OtlpSignal<Items> {
  path: string;
  operationId: string;
  summary: string;
  /** The collector package and message prefix: `trace`/`Trace`, `logs`/`Logs`. */
  proto: { pkg: string; service: string };
  /** The top-level list of the request (`resourceSpans`), which a 413 names. */
  list: string;
  /** The partialSuccess counter (`rejectedSpans`) and what it counts, for the documentation. */
  rejected: string;
  noun: string;
  decode(
    body: Uint8Array,
    format: OtlpFormat,
    orgId: string,
  ): Promise<{ items: Items; rejected: number; errors: string[] }>;
  store(items: Items, orgId: string): Promise<unknown>;
  encode(partial: Record<string, number | string> | undefined, format: OtlpFormat): Uint8Array | string;
}

/**
 * The route of an OTLP/HTTP signal, protobuf or JSON, gzip or not. A 200 means every accepted item is durable
 * (committed to PostgreSQL or fsync'd to the spill file). Items that fail validation are refused one by one through
 * `partialSuccess`; the ingest key's org is stamped on every row, whatever the items claim. The body counts against
 * the shared body budget until the answer; decoding and mapping never hold up the event loop.
 */
export function otlpSignalRoute<Items>(
  { pool, budget }: { pool: pg.Pool; budget: BodyBudget },
  signal: OtlpSignal<Items>,
) {
  // Plain JSON Schema rather than zod: the body is decoded by the OTLP decoder (protobuf or JSON, gzip or not, size
  // bounded), so no validator of the framework may read it first.
  const protobuf = (message: string) => ({
    type: 'string' as const,
    format: 'binary',
    description: `opentelemetry.proto.collector.${signal.proto.pkg}.v1.${signal.proto.service}${message}, protobuf-encoded`,
  });
  const route = createRoute({
    method: 'post',
    path: signal.path,
    operationId: signal.operationId,
    tags: ['ingest'],
    summary: signal.summary,
    ...ingestAccess(pool),
    request: {
      body: {
        required: true,
        content: {
          'application/x-protobuf': { schema: protobuf('ServiceRequest') },
          'application/json': {
            schema: {
              type: 'object' as const,
              description: `Export${signal.proto.service}ServiceRequest in OTLP/JSON encoding (ids as hex, enums as numbers)`,
              properties: { [signal.list]: { type: 'array' as const, items: { type: 'object' as const } } },
            },
          },
        },
      },
    },
    responses: {
      200: {
        description: `Every accepted ${signal.noun} is stored durably; the body is in the request’s encoding`,
        content: {
          'application/x-protobuf': { schema: protobuf('ServiceResponse') },
          'application/json': {
            schema: {
              type: 'object' as const,
              description: `Export${signal.proto.service}ServiceResponse; partialSuccess counts and explains refused ${signal.noun}s`,
              properties: {
                partialSuccess: {
                  type: 'object' as const,
                  properties: {
                    [signal.rejected]: { type: 'string' as const, description: 'int64 as a decimal string' },
                    errorMessage: { type: 'string' as const },
                  },
                },
              },
            },
          },
        },
      },
      ...PROBLEM_RESPONSES,
      ...problems(413, 415, 429, 503),
    },
  });

  return openApiRoutes().openapi(route, async (c) => {
    const format = otlpFormat(c);
    const hold = budget.hold();
    try {
      const body = await readBody(c, hold);
      const { orgId } = c.get('principal')!;
      const decoded = await decodeOrRefuse(() => signal.decode(body, format, orgId), signal.list);
      await storeOrRetryLater(() => signal.store(decoded.items, orgId));
      const partial =
        decoded.rejected > 0
          ? { [signal.rejected]: decoded.rejected, errorMessage: decoded.errors.join('; ') }
          : undefined;
      const response = signal.encode(partial, format);
      return c.body(typeof response === 'string' ? response : new Uint8Array(response), 200, {
        'content-type': format === 'protobuf' ? 'application/x-protobuf' : 'application/json',
      });
    } finally {
      hold.release();
    }
  });
}

/** `POST /v1/traces`: OTLP/HTTP traces; model-call spans become events. */
export function otlpRoutes({
  pool,
  ingest,
  budget,
  decoder,
}: {
  pool: pg.Pool;
  ingest: Pick<Ingest, 'spans' | 'capacity' | 'capturesContent'>;
  budget: BodyBudget;
  decoder: BodyDecoder;
}) {
  return otlpSignalRoute(
    { pool, budget },
    {
      path: '/v1/traces',
      operationId: 'exportTraces',
      summary: 'OTLP/HTTP trace ingest (protobuf or JSON; Content-Encoding gzip or none); ingest key',
      proto: { pkg: 'trace', service: 'Trace' },
      list: 'resourceSpans',
      rejected: 'rejectedSpans',
      noun: 'span',
      decode: async (body, format, orgId) => {
        // Only the attributes the mapping reads, unless the org captures content: prompts and completions are
        // otherwise stepped over, never decoded.
        const attributes = (await ingest.capturesContent(orgId)) ? 'all' : 'mapped';
        const { spans, rejected, errors } = await decoder.otlp(body, format, ingest.capacity, attributes);
        return { items: spans, rejected, errors };
      },
      store: (spans, orgId) => ingest.spans(spans, orgId),
      encode: (partial, format) =>
        encodeExportTraceResponse(
          partial as { rejectedSpans: number; errorMessage: string } | undefined,
          format,
        ),
    },
  );
}
