import { createRoute } from '@hono/zod-openapi';
import { type BodyDecoder, encodeExportLogsResponse, type LogIngest } from '@observatory/exporter-postgres';
import type pg from 'pg';
import { readBody } from '../http/body.ts';
import type { BodyBudget } from '../http/body-budget.ts';
import { keyAccess, openApiRoutes, PROBLEM_RESPONSES, problems } from '../http/openapi.ts';
import { storeOrRetryLater } from '../http/store-or-retry.ts';
import { decodeOrRefuse, otlpFormat } from './otlp.ts';

// Plain JSON Schema rather than zod: the body is decoded by the OTLP decoder, as for /v1/traces.
const PROTOBUF = (message: string) => ({
  type: 'string' as const,
  format: 'binary',
  description: `opentelemetry.proto.collector.logs.v1.${message}, protobuf-encoded`,
});

const OTLP_JSON_REQUEST = {
  type: 'object' as const,
  description: 'ExportLogsServiceRequest in OTLP/JSON encoding (ids as hex, enums as numbers)',
  properties: { resourceLogs: { type: 'array' as const, items: { type: 'object' as const } } },
};

const OTLP_JSON_RESPONSE = {
  type: 'object' as const,
  description: 'ExportLogsServiceResponse; partialSuccess counts and explains refused log records',
  properties: {
    partialSuccess: {
      type: 'object' as const,
      properties: {
        rejectedLogRecords: { type: 'string' as const, description: 'int64 as a decimal string' },
        errorMessage: { type: 'string' as const },
      },
    },
  },
};

/**
 * `POST /v1/logs`: OTLP/HTTP logs, protobuf or JSON, gzip or not, with the same keys, limits and answers as
 * `/v1/traces`: a 200 means every accepted record is durable (committed or fsync'd to the logs' spill file); records
 * that fail validation are refused one by one through `partialSuccess`; the ingest key's org is stamped on every row.
 */
export function otlpLogRoutes({
  pool,
  logs,
  budget,
  decoder,
}: {
  pool: pg.Pool;
  logs: Pick<LogIngest, 'logs' | 'capacity'>;
  budget: BodyBudget;
  decoder: BodyDecoder;
}) {
  const route = createRoute({
    method: 'post',
    path: '/v1/logs',
    operationId: 'exportLogs',
    tags: ['ingest'],
    summary: 'OTLP/HTTP log ingest (protobuf or JSON; Content-Encoding gzip or none); ingest key',
    ...keyAccess(pool, ['ingest']),
    request: {
      body: {
        required: true,
        content: {
          'application/x-protobuf': { schema: PROTOBUF('ExportLogsServiceRequest') },
          'application/json': { schema: OTLP_JSON_REQUEST },
        },
      },
    },
    responses: {
      200: {
        description: 'Every accepted log record is stored durably; the body is in the request’s encoding',
        content: {
          'application/x-protobuf': { schema: PROTOBUF('ExportLogsServiceResponse') },
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
        () => decoder.otlpLogs(body, format, logs.capacity),
        'resourceLogs',
      );
      const { orgId } = c.get('principal')!;
      await storeOrRetryLater(() => logs.logs(decoded.records, orgId));
      const partial =
        decoded.rejected > 0
          ? { rejectedLogRecords: decoded.rejected, errorMessage: decoded.errors.join('; ') }
          : undefined;
      const response = encodeExportLogsResponse(partial, format);
      return c.body(typeof response === 'string' ? response : new Uint8Array(response), 200, {
        'content-type': format === 'protobuf' ? 'application/x-protobuf' : 'application/json',
      });
    } finally {
      hold.release();
    }
  });
}
