import { z } from 'zod';
import type { ArchiveManifest } from './manifest.ts';

/** A CLI date: `YYYY-MM-DD` (midnight UTC) or an ISO date-time with offset. */
export const CliDateSchema = z
  .union([z.iso.date(), z.iso.datetime({ offset: true })], {
    error: 'expected YYYY-MM-DD or an ISO date-time',
  })
  .transform((text) => new Date(text.length === 10 ? `${text}T00:00:00Z` : text));

/** One line per archive file: what `observatory archive list` prints. */
export function manifestLine(m: ArchiveManifest): string {
  return [
    m.month,
    `part ${m.part}`,
    `${m.range_from.toISOString()} .. ${m.range_to.toISOString()}`,
    `${m.row_count} rows`,
    `${m.file_size} bytes`,
    `schema v${m.schema_version}`,
    `sha256 ${m.sha256}`,
    m.storage_key,
  ].join('  ');
}
