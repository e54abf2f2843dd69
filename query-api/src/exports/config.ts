import { z } from 'zod';
import { BooleanTextSchema } from '../boolean-text.ts';

const positiveInt = z.coerce.number().int().positive();

/** Environment variables of the export jobs; merged into the service's ConfigSchema. */
export const ExportConfigShape = {
  /** `observatory serve` runs an export worker inside unless this is false. */
  OBSERVATORY_WORKER: BooleanTextSchema.default(true),
  /** HMAC secret for download URLs; when unset, one is generated and kept in OBSERVATORY_DATA_DIR. */
  OBSERVATORY_SIGNING_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  OBSERVATORY_EXPORT_STORAGE: z.enum(['local', 's3']).default('local'),
  /** Local storage directory; default `<OBSERVATORY_DATA_DIR>/exports`. */
  OBSERVATORY_EXPORT_DIR: z.string().min(1).optional(),
  OBSERVATORY_EXPORT_S3_BUCKET: z.string().min(1).optional(),
  OBSERVATORY_EXPORT_S3_PREFIX: z.string().default('exports/'),
  OBSERVATORY_EXPORT_S3_REGION: z.string().min(1).default('us-east-1'),
  /** For S3-compatible services (MinIO, Ceph, R2…); path-style addressing is used with an endpoint. */
  OBSERVATORY_EXPORT_S3_ENDPOINT: z.url().optional(),
  OBSERVATORY_EXPORT_S3_SSE: z.enum(['AES256', 'aws:kms']).default('AES256'),
  OBSERVATORY_EXPORT_CONCURRENCY: positiveInt.max(100).default(5),
  OBSERVATORY_EXPORT_RATE_LIMIT: positiveInt.default(10),
  OBSERVATORY_EXPORT_URL_TTL_SECONDS: positiveInt.max(7 * 24 * 3600).default(900),
  OBSERVATORY_EXPORT_LEASE_SECONDS: positiveInt.default(60),
  OBSERVATORY_EXPORT_MAX_ATTEMPTS: positiveInt.max(100).default(3),
  OBSERVATORY_EXPORT_POLL_MS: positiveInt.default(1000),
  OBSERVATORY_EXPORT_FILE_TTL_HOURS: positiveInt.default(24),
  OBSERVATORY_EXPORT_FAILED_TTL_HOURS: positiveInt.default(7 * 24),
  /** Test-only: pause (ms) after every 100 rows, so a test can kill a worker mid-export. */
  OBSERVATORY_EXPORT_TEST_THROTTLE_MS: z.coerce.number().int().min(0).default(0),
};
