import { z } from 'zod';

/** `parquet`: typed columns (the archive's), compressed inside the file, so never gzip-wrapped. */
export const ExportFormatSchema = z.enum(['csv', 'json', 'jsonl', 'parquet']);
export type ExportFormat = z.infer<typeof ExportFormatSchema>;

export const ExportStatusSchema = z.enum(['pending', 'running', 'completed', 'failed']);
export type ExportStatus = z.infer<typeof ExportStatusSchema>;

/** One row of `exports`. */
export interface ExportJobRow {
  id: string;
  org_id: string;
  created_by: string | null;
  status: ExportStatus;
  format: ExportFormat;
  gzip: boolean;
  /** The scoped filters as stored (dates as ISO strings). */
  filters: Record<string, unknown>;
  row_count: string | null;
  file_size: string | null;
  storage_key: string | null;
  error: string | null;
  attempts: number;
  locked_by: string | null;
  lease_until: Date | null;
  created_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
  expires_at: Date | null;
}
