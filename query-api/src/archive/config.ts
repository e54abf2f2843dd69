import { z } from 'zod';

/** Environment variables of the archive; merged into the service's ConfigSchema. Storage kind, bucket, region,
 * endpoint and encryption are the exports' (OBSERVATORY_EXPORT_STORAGE, OBSERVATORY_EXPORT_S3_*). */
export const ArchiveConfigShape = {
  /** Local archive directory; default `<OBSERVATORY_DATA_DIR>/archive`. */
  OBSERVATORY_ARCHIVE_DIR: z.string().min(1).optional(),
  OBSERVATORY_ARCHIVE_S3_PREFIX: z.string().default('archive/'),
};
