export { ExportConfigShape } from './config.ts';
export {
  type ExportFormat,
  ExportFormatSchema,
  type ExportJobRow,
  type ExportStatus,
  ExportStatusSchema,
} from './job.ts';
export { LocalStorage } from './local-storage.ts';
export { createExportMetrics, type ExportMetrics, type JobOutcome } from './metrics.ts';
export { type ExportResult, type ExportSpec, runExport } from './run-export.ts';
export { S3Storage, type S3StorageOptions } from './s3-storage.ts';
export { createExportService, createExportWorker, createStorage, type ExportService } from './service.ts';
export { DownloadSigner, resolveSigningSecret, type SignedDownload } from './signing.ts';
export type { ExportStorage } from './storage.ts';
export { ExportWorker, type ExportWorkerOptions } from './worker.ts';
