import { type Meter, metrics } from '@opentelemetry/api';
import type { ExportFormat } from './job.ts';

export type JobOutcome = 'completed' | 'retried' | 'failed';

/** What the export worker reports. Labels come from fixed sets only: outcome and format. */
export interface ExportMetrics {
  jobCreated(format: ExportFormat): void;
  jobFinished(format: ExportFormat, outcome: JobOutcome, durationSeconds: number, rows: number): void;
  /** Jobs given up after their worker died on the last attempt. */
  jobsAbandoned(format: ExportFormat): void;
}

/**
 * Export metrics on `meter` (from the service's MeterProvider, so they appear on /metrics). Without one,
 * the global meter is used, which records nothing until a provider is registered.
 */
export function createExportMetrics(
  meter: Meter = metrics.getMeter('@observatory/query-api'),
): ExportMetrics {
  const created = meter.createCounter('observatory_export_jobs_created', {
    description: 'Export jobs created',
  });
  const finished = meter.createCounter('observatory_export_jobs_finished', {
    description: 'Export job attempts finished, by outcome (completed, retried, failed)',
  });
  const rows = meter.createCounter('observatory_export_rows', {
    description: 'Rows written to completed export files',
  });
  const duration = meter.createHistogram('observatory_export_job_duration', {
    description: 'Duration of export job attempts',
    unit: 's',
    advice: { explicitBucketBoundaries: [0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800] },
  });
  return {
    jobCreated: (format) => created.add(1, { format }),
    jobFinished(format, outcome, durationSeconds, rowCount) {
      finished.add(1, { format, outcome });
      duration.record(durationSeconds, { format, outcome });
      if (outcome === 'completed') rows.add(rowCount, { format });
    },
    jobsAbandoned: (format) => finished.add(1, { format, outcome: 'failed' }),
  };
}
