import { z } from 'zod';

const NATS_URL = /^(nats|tls):\/\/[^/\s,]+$/;

/** Environment variables of the durable ingest buffer; merged into the service's ConfigSchema. */
export const BufferConfigShape = {
  /** NATS servers (comma-separated `nats://host:port`); set, receivers publish to JetStream and writers commit. */
  OBSERVATORY_INGEST_BUFFER: z
    .string()
    .transform((v) => v.split(',').map((s) => s.trim()))
    .refine(
      (urls) => urls.every((u) => NATS_URL.test(u)),
      'must be nats://host:port (or tls://), comma-separated for several servers',
    )
    .optional(),
  /** Copies JetStream keeps of every buffered batch: 3 on a cluster of three or more, 1 on a single server. */
  OBSERVATORY_INGEST_BUFFER_REPLICAS: z.coerce.number().int().min(1).max(5).default(3),
  /** The stream's size limit; past it receivers answer 429 until writers catch up. */
  OBSERVATORY_INGEST_BUFFER_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024 * 1024, 'must be at least 1048576 (1 MiB)')
    .default(1024 * 1024 * 1024),
  /** How long a writer may hold a batch unacknowledged before JetStream hands it to another writer. */
  OBSERVATORY_INGEST_BUFFER_ACK_MS: z.coerce.number().int().min(1000).max(3_600_000).default(30_000),
};
