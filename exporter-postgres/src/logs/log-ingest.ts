import type pg from 'pg';
import { type Durability, EventPipeline, type PipelineOptions, type RowSink } from '../pipeline/pipeline.ts';
import { forEachInSlices } from '../slices.ts';
import type { LogInput } from './log-input.ts';
import type { LogRow } from './log-row.ts';
import { createLogWriter, LOG_DATE_FIELDS } from './log-writer.ts';
import { mapLog } from './map-log.ts';

export interface LogIngestOptions
  extends Omit<PipelineOptions<LogRow>, 'writer' | 'health' | 'spillDateFields'> {
  pool: pg.Pool;
  /** Where mapped rows go instead of this process's pipeline: the durable ingest buffer, as for `Ingest`. */
  sink?: RowSink<LogRow>;
}

export interface LogIngestResult {
  records: number;
  durability: Durability;
}

/**
 * The path from OTLP log records to `structured_logs`: map (scrub, cap, id) in slices, then a pipeline of its own
 * (queue, batches, retries, its own spill directory), so a flood of logs never holds up model-call events and a
 * 200 means the same thing as for traces: committed or fsync'd.
 */
export class LogIngest {
  readonly pipeline: RowSink<LogRow>;

  constructor(options: LogIngestOptions) {
    this.pipeline =
      options.sink ??
      new EventPipeline<LogRow>({
        ...options,
        writer: createLogWriter(options.pool),
        spillDateFields: LOG_DATE_FIELDS,
      });
  }

  /** The most records one call can store: the size of the pipeline's queue. */
  get capacity(): number {
    return this.pipeline.capacity;
  }

  start(): Promise<void> {
    return this.pipeline.start();
  }

  /** Maps and stores records as rows of `orgId` (an ingest key's org: what the records claim does not matter). */
  async logs(records: readonly LogInput[], orgId: string): Promise<LogIngestResult> {
    const receivedAt = new Date();
    const rows: LogRow[] = [];
    await forEachInSlices(records, (record) => rows.push(mapLog(record, orgId, receivedAt)));
    return { records: rows.length, durability: await this.pipeline.enqueue(rows) };
  }

  flush(): Promise<void> {
    return this.pipeline.flush();
  }

  shutdown(): Promise<void> {
    return this.pipeline.shutdown();
  }
}
