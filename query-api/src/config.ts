import { PIPELINE_DEFAULTS } from '@observatory/exporter-postgres';
import { z } from 'zod';
import { ArchiveConfigShape } from './archive/config.ts';
import { BooleanTextSchema } from './boolean-text.ts';
import { BufferConfigShape } from './buffer/config.ts';
import { ExportConfigShape } from './exports/config.ts';
import { DEFAULT_MAX_BUFFERED_BYTES } from './http/body-budget.ts';

export const ConfigSchema = z.object({
  DATABASE_URL: z
    .string()
    .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// or postgresql:// URL')
    .optional(),
  /** A streaming replica of DATABASE_URL's database: list, aggregate, CSV and export reads go there. */
  DATABASE_READ_URL: z
    .string()
    .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// or postgresql:// URL')
    .optional(),
  OBSERVATORY_DATA_DIR: z.string().min(1).default('./.observatory'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4318),
  HOST: z.string().default('0.0.0.0'),
  /** True behind a TLS-terminating proxy that sets X-Forwarded-Proto; otherwise any client could send that header. */
  OBSERVATORY_TRUST_PROXY: BooleanTextSchema.default(false),
  OBSERVATORY_ALERTMANAGER_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  OBSERVATORY_ALLOW_PRIVATE_WEBHOOKS: BooleanTextSchema.default(false),
  /** Key of the user_id pseudonyms; when unset, one is generated and kept in OBSERVATORY_DATA_DIR. */
  OBSERVATORY_PSEUDONYM_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  /** HMAC key of the audit chains; when unset, one is generated and kept in OBSERVATORY_DATA_DIR. */
  OBSERVATORY_AUDIT_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Master key wrapping the per-org data keys of captured content; when unset, a key file in OBSERVATORY_DATA_DIR. */
  OBSERVATORY_MASTER_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  /** The master key before a rotation: only unwraps, until `keys rotate-master` re-wrapped everything. */
  OBSERVATORY_MASTER_KEY_PREVIOUS: z.string().min(32, 'must be at least 32 characters').optional(),
  /** SMTP server of email alert channels; unset, rules cannot have email channels. */
  OBSERVATORY_SMTP_URL: z
    .string()
    .refine((v) => /^smtps?:\/\/[^/]/.test(v), 'must be an smtp:// or smtps:// URL')
    .optional(),
  OBSERVATORY_SMTP_FROM: z.string().min(3).default('Observatory <observatory@localhost>'),
  OBSERVATORY_SMTP_RATE_LIMIT: z.coerce.number().int().min(1).default(30),
  /** Where users reach the console; notifications link to their alert there. */
  OBSERVATORY_PUBLIC_URL: z.url({ protocol: /^https?$/ }).default('http://localhost:4318'),
  /** The console links traces to this viewer (Jaeger, Tempo) only when it is set. */
  OBSERVATORY_TRACE_URL_TEMPLATE: z.string().optional(),
  OBSERVATORY_INGEST_QUEUE: z.coerce.number().int().min(1000).default(PIPELINE_DEFAULTS.maxQueue),
  OBSERVATORY_INGEST_BATCH_SIZE: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(PIPELINE_DEFAULTS.batchSize),
  OBSERVATORY_INGEST_FLUSH_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(PIPELINE_DEFAULTS.flushIntervalMs),
  OBSERVATORY_INGEST_CONCURRENCY: z.coerce
    .number()
    .int()
    .min(1)
    .max(64)
    .default(PIPELINE_DEFAULTS.concurrency),
  OBSERVATORY_INGEST_MAX_ATTEMPTS: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(PIPELINE_DEFAULTS.maxAttempts),
  OBSERVATORY_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  OBSERVATORY_MAX_BUFFERED_BYTES: z.coerce
    .number()
    .int()
    .min(1024 * 1024, 'must be at least 1048576 (1 MiB)')
    .default(DEFAULT_MAX_BUFFERED_BYTES),
  OBSERVATORY_METRICS_MAX_ORGS: z.coerce.number().int().min(1).default(100),
  OBSERVATORY_METRICS_MAX_MODELS: z.coerce.number().int().min(1).default(100),
  OBSERVATORY_PRICES_FILE: z.string().min(1).optional(),
  OBSERVATORY_STREAM_MAX_PER_KEY: z.coerce.number().int().min(1).default(20),
  OBSERVATORY_STREAM_MAX_PER_ORG: z.coerce.number().int().min(1).default(200),
  OBSERVATORY_STREAM_RECHECK_MS: z.coerce.number().int().min(100).max(10_000).default(10_000),
  OBSERVATORY_STREAM_MAX_LIFETIME_MS: z.coerce.number().int().min(10_000).default(3_600_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ...ExportConfigShape,
  ...ArchiveConfigShape,
  ...BufferConfigShape,
});

export type Config = z.infer<typeof ConfigSchema>;

/** Reads configuration from the environment once, reporting every invalid variable together. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = ConfigSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ');
    throw new ConfigError(`Configuration: ${problems}`);
  }
  return result.data;
}

/** An error whose message is meant for the operator as it is, on one line, without a stack. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
