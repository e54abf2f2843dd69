import {
  decodeOtlpJson,
  decodeOtlpProtobuf,
  encodeExportTraceResponse,
  type Ingest,
  OtlpDecodeError,
  QueueFullError,
  ShutdownError,
} from '@observatory/exporter-postgres';
import type { Context } from 'hono';
import { Hono } from 'hono';
import type pg from 'pg';
import type { AppEnv } from '../http/app-env.ts';
import { requireKey, requireRole } from '../http/auth.ts';
import { readBody } from '../http/body.ts';
import { ProblemError } from '../http/problem.ts';

type Format = 'protobuf' | 'json';

function formatOf(c: Context): Format {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  throw new ProblemError(415, 'Content-Type must be application/x-protobuf or application/json');
}

/**
 * Stores an ingest batch and maps a full queue to 429 and an unusable database plus spill file to 503, both with
 * Retry-After: the two answers OTLP clients retry.
 */
export async function storeOrRetryLater<T>(store: () => Promise<T>): Promise<T> {
  try {
    return await store();
  } catch (err) {
    if (err instanceof QueueFullError) throw new ProblemError(429, err.message, {}, { 'Retry-After': '1' });
    const problem = new ProblemError(
      503,
      'Events could not be stored durably; retry later',
      {},
      { 'Retry-After': '5' },
    );
    // Shutting down is expected; anything else (the spill file refusing, a bug) is logged with the request.
    if (!(err instanceof ShutdownError)) problem.cause = err;
    throw problem;
  }
}

/**
 * `POST /v1/traces`: OTLP/HTTP, protobuf or JSON, gzip or not. A 200 means every accepted span is durable
 * (committed to PostgreSQL or fsync'd to the spill file). Spans that fail validation are refused one by one
 * through `partialSuccess`; the ingest key's org is stamped on every event, whatever the spans claim.
 */
export function otlpRoutes({ pool, ingest }: { pool: pg.Pool; ingest: Ingest }): Hono<AppEnv> {
  return new Hono<AppEnv>().post('/v1/traces', requireKey(pool), requireRole('ingest'), async (c) => {
    const format = formatOf(c);
    const body = await readBody(c);
    let decoded: ReturnType<typeof decodeOtlpJson>;
    try {
      decoded = format === 'protobuf' ? decodeOtlpProtobuf(body) : decodeOtlpJson(body.toString('utf8'));
    } catch (err) {
      if (err instanceof OtlpDecodeError) throw new ProblemError(400, err.message);
      throw err;
    }
    const { orgId } = c.get('principal');
    await storeOrRetryLater(() => ingest.spans(decoded.spans, orgId));
    const partial =
      decoded.rejected > 0
        ? { rejectedSpans: decoded.rejected, errorMessage: decoded.errors.join('; ') }
        : undefined;
    const response = encodeExportTraceResponse(partial, format);
    return c.body(typeof response === 'string' ? response : new Uint8Array(response), 200, {
      'content-type': format === 'protobuf' ? 'application/x-protobuf' : 'application/json',
    });
  });
}
