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
import { keyAccess, openApiRoutes, PROBLEM_RESPONSES, problems } from '../http/openapi.ts';
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

// Plain JSON Schema rather than zod: the body is decoded by the OTLP decoder (protobuf or JSON, gzip or not, size
// bounded), so no validator of the framework may read it first.
const PROTOBUF = (message: string) => ({
  type: 'string' as const,
  format: 'binary',
  description: `opentelemetry.proto.collector.trace.v1.${message}, protobuf-encoded`,
});
const OTLP_JSON_REQUEST = {
  type: 'object' as const,
  description: 'ExportTraceServiceRequest in OTLP/JSON encoding (ids as hex, enums as numbers)',
  properties: { resourceSpans: { type: 'array' as const, items: { type: 'object' as const } } },
};
const OTLP_JSON_RESPONSE = {
  type: 'object' as const,
  description: 'ExportTraceServiceResponse; partialSuccess counts and explains refused spans',
  properties: {
    partialSuccess: {
      type: 'object' as const,
      properties: {
        rejectedSpans: { type: 'string' as const, description: 'int64 as a decimal string' },
        errorMessage: { type: 'string' as const },
      },
    },
  },
};

/**
 * `POST /v1/traces`: OTLP/HTTP, protobuf or JSON, gzip or not. A 200 means every accepted span is durable
 * (committed to PostgreSQL or fsync'd to the spill file). Spans that fail validation are refused one by one
 * through `partialSuccess`; the ingest key's org is stamped on every event, whatever the spans claim. The body
 * counts against the shared body budget until the answer; decoding and mapping never hold up the event loop.
 */
export function otlpRoutes({
  pool,
  ingest,
  budget,
  decoder,
}: {
  pool: pg.Pool;
  ingest: Pick<Ingest, 'spans' | 'capacity'>;
  budget: BodyBudget;
  decoder: BodyDecoder;
}) {
  const route = createRoute({
    method: 'post',
    path: '/v1/traces',
    operationId: 'exportTraces',
    tags: ['ingest'],
    summary: 'OTLP/HTTP trace ingest (protobuf or JSON; Content-Encoding gzip or none); ingest key',
    ...keyAccess(pool, ['ingest']),
    request: {
      body: {
        required: true,
        content: {
          'application/x-protobuf': { schema: PROTOBUF('ExportTraceServiceRequest') },
          'application/json': { schema: OTLP_JSON_REQUEST },
        },
      },
    },
    responses: {
      200: {
        description: 'Every accepted span is stored durably; the body is in the request’s encoding',
        content: {
          'application/x-protobuf': { schema: PROTOBUF('ExportTraceServiceResponse') },
          'application/json': { schema: OTLP_JSON_RESPONSE },
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
      const decoded = await decodeOrRefuse(
        () => decoder.otlp(body, format, ingest.capacity),
        'resourceSpans',
      );
      const { orgId } = c.get('principal')!;
      await storeOrRetryLater(() => ingest.spans(decoded.spans, orgId));
      const partial =
        decoded.rejected > 0
          ? { rejectedSpans: decoded.rejected, errorMessage: decoded.errors.join('; ') }
          : undefined;
      const response = encodeExportTraceResponse(partial, format);
      return c.body(typeof response === 'string' ? response : new Uint8Array(response), 200, {
        'content-type': format === 'protobuf' ? 'application/x-protobuf' : 'application/json',
      });
    } finally {
      hold.release();
    }
  });
}
