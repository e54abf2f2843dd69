import {
  createLogWriter,
  createStoredRowWriter,
  EVENT_DATE_FIELDS,
  LOG_DATE_FIELDS,
  type LogRow,
  modelCallsOf,
  type StoredRow,
} from '@observatory/exporter-postgres';
import type pg from 'pg';
import { type Config, ConfigError } from '../config.ts';
import type { Logger } from '../log.ts';
import { publishCommitted, publishLogs } from '../stream/publish.ts';
import { BUFFER_SUBJECTS, type IngestBuffer, openIngestBuffer } from './connection.ts';
import { JetStreamSink } from './sink.ts';
import { startBufferWriter } from './writer-loop.ts';

/** The ingest buffer the configuration asks for, or undefined when OBSERVATORY_INGEST_BUFFER is unset. */
export async function openConfiguredBuffer(
  config: Config,
  role: 'receiver' | 'writer',
): Promise<IngestBuffer | undefined> {
  if (!config.OBSERVATORY_INGEST_BUFFER) return undefined;
  return openIngestBuffer(
    {
      servers: config.OBSERVATORY_INGEST_BUFFER,
      replicas: config.OBSERVATORY_INGEST_BUFFER_REPLICAS,
      maxBytes: config.OBSERVATORY_INGEST_BUFFER_MAX_BYTES,
      ackWaitMs: config.OBSERVATORY_INGEST_BUFFER_ACK_MS,
    },
    role,
  );
}

/** Where receivers put accepted rows when the buffer is on: model calls and spans, and log records, apart. */
export function bufferSinks(buffer: IngestBuffer, capacity: number) {
  const sink = <T>(subject: string) =>
    new JetStreamSink<T>({ js: buffer.js, subject, maxPayload: buffer.maxPayload, capacity });
  return {
    rows: sink<StoredRow>(BUFFER_SUBJECTS.rows.subject),
    logs: sink<LogRow>(BUFFER_SUBJECTS.logs.subject),
  };
}

/** The writers of `observatory writer`: one consumer loop set per subject, feeding the live stream after commit. */
export async function runBufferWriters(config: Config, pool: pg.Pool, logger: Logger) {
  const buffer = await openConfiguredBuffer(config, 'writer');
  if (!buffer) {
    throw new ConfigError(
      'observatory writer needs OBSERVATORY_INGEST_BUFFER (the NATS servers of the buffer)',
    );
  }
  const common = {
    js: buffer.js,
    batchSize: config.OBSERVATORY_INGEST_BATCH_SIZE,
    ackWaitMs: config.OBSERVATORY_INGEST_BUFFER_ACK_MS,
    concurrency: config.OBSERVATORY_INGEST_CONCURRENCY,
  };
  const rows = startBufferWriter<StoredRow>({
    ...common,
    kind: 'rows',
    writer: createStoredRowWriter(pool),
    dateFields: EVENT_DATE_FIELDS,
    onCommitted: async (committed) => {
      const events = modelCallsOf(committed);
      if (events.length > 0) await publishCommitted(pool, events);
    },
    onError: (err) => logger.warn({ err: err.message }, 'ingest buffer writer'),
  });
  const logs = startBufferWriter<LogRow>({
    ...common,
    kind: 'logs',
    writer: createLogWriter(pool),
    dateFields: LOG_DATE_FIELDS,
    onCommitted: (committed) => publishLogs(pool, committed),
    onError: (err) => logger.warn({ err: err.message }, 'ingest buffer log writer'),
  });
  return {
    async stop() {
      await Promise.all([rows.stop(), logs.stop()]);
      await buffer.close();
    },
  };
}
