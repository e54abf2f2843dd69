import { z } from 'zod';
import { storedHexIdSchema } from '../hex-id.ts';
import { OrgIdSchema } from '../org-id.ts';

/** Longest body kept, after scrubbing; a longer one is cut at a word boundary. */
export const MAX_LOG_BODY = 8192;
/** Attributes kept per record (the first ones sent), and the longest key kept. */
export const MAX_LOG_ATTRIBUTES = 64;
export const MAX_LOG_ATTRIBUTE_KEY = 128;
/** Service, scope and severity text are cut to this. */
export const MAX_LOG_NAME = 256;

const name = z.string().max(MAX_LOG_NAME);

/**
 * One log line: a row of `structured_logs`. Field names are the column names, so the same shape is the database
 * row, the API item and the live-stream payload.
 */
export const LogRowSchema = z.object({
  /** UUIDv7 layout: `time` in ms, then a hash of the stored content (a re-delivered record gets the same id). */
  id: z.uuid(),
  org_id: OrgIdSchema,
  /** When the logged event happened (the sender's time, else when it was observed, else when it was received). */
  time: z.date(),
  observed_time: z.date(),
  received_at: z.date(),
  /** OTLP severity: 0 unspecified, TRACE 1–4, DEBUG 5–8, INFO 9–12, WARN 13–16, ERROR 17–20, FATAL 21–24. */
  severity_number: z.number().int().min(0).max(24),
  severity_text: name.nullable(),
  service_name: name.nullable(),
  scope_name: name.nullable(),
  /** Scrubbed and capped; a structured body is stored as its JSON text. */
  body: z.string().max(MAX_LOG_BODY),
  trace_id: storedHexIdSchema(16).nullable(),
  span_id: storedHexIdSchema(8).nullable(),
  /** Scrubbed, at most MAX_LOG_ATTRIBUTES keys; nested values are stored as their (capped) JSON text. */
  attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
});

export type LogRow = z.infer<typeof LogRowSchema>;

/** Column order used by every writer and reader of `structured_logs`. */
export const LOG_ROW_COLUMNS = Object.keys(LogRowSchema.shape) as (keyof LogRow)[];

/** The table and its time column, for anything that works through tables by age (retention). */
export const STRUCTURED_LOGS_TABLE = { table: 'structured_logs', timeColumn: 'time' } as const;
