import { join } from 'node:path';
import type { Meter } from '@opentelemetry/api';
import type pg from 'pg';
import { type Config, ConfigError } from '../config.ts';
import type { Logger } from '../log.ts';
import { LocalStorage } from './local-storage.ts';
import { createExportMetrics, type ExportMetrics } from './metrics.ts';
import { DownloadSigner, resolveSigningSecret } from './signing.ts';
import type { ExportStorage } from './storage.ts';
import { ExportWorker } from './worker.ts';

/** What the export routes need; built once per process from the configuration. */
export interface ExportService {
  storage: ExportStorage;
  signer: DownloadSigner;
  metrics: ExportMetrics;
  rateLimitPerMinute: number;
  urlTtlSeconds: number;
  /** Called after a job is created, so an in-process worker starts it without waiting for its poll. */
  onJobCreated?: () => void;
}

export async function createStorage(config: Config): Promise<ExportStorage> {
  const localDir = config.OBSERVATORY_EXPORT_DIR ?? join(config.OBSERVATORY_DATA_DIR, 'exports');
  return storageAt(config, localDir, config.OBSERVATORY_EXPORT_S3_PREFIX);
}

/** Where archive files go: the exports' kind of storage (and bucket), under their own directory or prefix. */
export async function createArchiveStorage(config: Config): Promise<ExportStorage> {
  const localDir = config.OBSERVATORY_ARCHIVE_DIR ?? join(config.OBSERVATORY_DATA_DIR, 'archive');
  return storageAt(config, localDir, config.OBSERVATORY_ARCHIVE_S3_PREFIX);
}

async function storageAt(config: Config, localDir: string, s3Prefix: string): Promise<ExportStorage> {
  if (config.OBSERVATORY_EXPORT_STORAGE === 'local') return new LocalStorage(localDir).init();
  if (!config.OBSERVATORY_EXPORT_S3_BUCKET) {
    throw new ConfigError(
      'Configuration: OBSERVATORY_EXPORT_S3_BUCKET is required when OBSERVATORY_EXPORT_STORAGE=s3',
    );
  }
  // Loaded only for S3: the AWS SDK alone takes about half a second to import, on every start and CLI command.
  const [{ S3Client }, { S3Storage }] = await Promise.all([
    import('@aws-sdk/client-s3'),
    import('./s3-storage.ts'),
  ]);
  const endpoint = config.OBSERVATORY_EXPORT_S3_ENDPOINT;
  // Credentials come from the usual AWS sources (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles, roles).
  const client = new S3Client({
    region: config.OBSERVATORY_EXPORT_S3_REGION,
    // S3-compatible services often lack the SDK's newer default request checksums; send them only when required.
    ...(endpoint
      ? {
          endpoint,
          forcePathStyle: true,
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
        }
      : {}),
  });
  return new S3Storage({
    client,
    bucket: config.OBSERVATORY_EXPORT_S3_BUCKET,
    prefix: s3Prefix,
    serverSideEncryption: config.OBSERVATORY_EXPORT_S3_SSE,
    tempDir: join(localDir, '.tmp'),
  }).init();
}

export async function createExportService(config: Config, meter?: Meter): Promise<ExportService> {
  return {
    storage: await createStorage(config),
    signer: new DownloadSigner(
      await resolveSigningSecret(config.OBSERVATORY_SIGNING_SECRET, config.OBSERVATORY_DATA_DIR),
    ),
    metrics: createExportMetrics(meter),
    rateLimitPerMinute: config.OBSERVATORY_EXPORT_RATE_LIMIT,
    urlTtlSeconds: config.OBSERVATORY_EXPORT_URL_TTL_SECONDS,
  };
}

export function createExportWorker(
  config: Config,
  deps: { pool: pg.Pool; readPool: pg.Pool; logger: Logger; service: ExportService },
): ExportWorker {
  return new ExportWorker({
    pool: deps.pool,
    readPool: deps.readPool,
    logger: deps.logger,
    storage: deps.service.storage,
    metrics: deps.service.metrics,
    concurrency: config.OBSERVATORY_EXPORT_CONCURRENCY,
    pollMs: config.OBSERVATORY_EXPORT_POLL_MS,
    leaseSeconds: config.OBSERVATORY_EXPORT_LEASE_SECONDS,
    maxAttempts: config.OBSERVATORY_EXPORT_MAX_ATTEMPTS,
    fileTtlSeconds: config.OBSERVATORY_EXPORT_FILE_TTL_HOURS * 3600,
    failedTtlSeconds: config.OBSERVATORY_EXPORT_FAILED_TTL_HOURS * 3600,
    throttleMs: config.OBSERVATORY_EXPORT_TEST_THROTTLE_MS,
  });
}
