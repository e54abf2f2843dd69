import { type BodyDecoder, encodeExportLogsResponse, type LogIngest } from '@observatory/exporter-postgres';
import type pg from 'pg';
import type { BodyBudget } from '../http/body-budget.ts';
import { otlpSignalRoute } from './otlp.ts';

/**
 * `POST /v1/logs`: OTLP/HTTP logs with the same keys, limits and answers as `/v1/traces`; log records go to their
 * own pipeline and spill file.
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
  return otlpSignalRoute(
    { pool, budget },
    {
      path: '/v1/logs',
      operationId: 'exportLogs',
      summary: 'OTLP/HTTP log ingest (protobuf or JSON; Content-Encoding gzip or none); ingest key',
      proto: { pkg: 'logs', service: 'Logs' },
      list: 'resourceLogs',
      rejected: 'rejectedLogRecords',
      noun: 'log record',
      decode: async (body, format) => {
        const { records, rejected, errors } = await decoder.otlpLogs(body, format, logs.capacity);
        return { items: records, rejected, errors };
      },
      store: (records, orgId) => logs.logs(records, orgId),
      encode: (partial, format) =>
        encodeExportLogsResponse(
          partial as { rejectedLogRecords: number; errorMessage: string } | undefined,
          format,
        ),
    },
  );
}
